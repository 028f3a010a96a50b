import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CatalogueModule } from '@aegle/catalogue';
import { EhrModule } from '@aegle/fhir';
import { InferenceModule } from '@aegle/inference';
import { JobsModule } from '@aegle/jobs';
import { RunsModule } from '@aegle/runs';
import { SubscriptionsModule } from '@aegle/subscriptions';
import { HealthController } from './health.controller';

@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    CatalogueModule,
    JobsModule,
    RunsModule,
    EhrModule,
    InferenceModule,
    SubscriptionsModule,
  ],
  controllers: [HealthController],
})
export class HealthModule {}

import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CatalogueModule } from '@aegle/catalogue';
import { InferenceModule } from '@aegle/inference';
import { JobsModule } from '@aegle/jobs';
import { SubscriptionsModule } from '@aegle/subscriptions';
import { HealthController } from './health.controller';

@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    CatalogueModule,
    JobsModule,
    InferenceModule,
    SubscriptionsModule,
  ],
  controllers: [HealthController],
})
export class HealthModule {}

import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CatalogueModule } from '@aegle/catalogue';
import { JobsModule } from '@aegle/jobs';
import { RunsModule } from '@aegle/runs';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), CatalogueModule, JobsModule, RunsModule],
  controllers: [HealthController],
})
export class HealthModule {}

import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { WorkflowModule } from '@aegle/workflow';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), WorkflowModule],
  controllers: [HealthController],
})
export class HealthModule {}

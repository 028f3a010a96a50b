import { Module } from '@nestjs/common';
import { WorkflowModule } from '@aegle/workflow';
import { IntakeController } from './intake.controller';

@Module({ imports: [WorkflowModule], controllers: [IntakeController] })
export class IntakeModule {}

import { Module } from '@nestjs/common';
import { WorkflowModule } from '@aegle/workflow';
import { DeadLettersController } from './dead-letters.controller';

@Module({ imports: [WorkflowModule], controllers: [DeadLettersController] })
export class DeadLettersModule {}

import { Module } from '@nestjs/common';
import { WorkflowModule } from '@aegle/workflow';
import { IntakeAdminController } from './intake-admin.controller';

@Module({ imports: [WorkflowModule], controllers: [IntakeAdminController] })
export class IntakeAdminModule {}

import { Module } from '@nestjs/common';
import { WorkflowModule } from '@aegle/workflow';
import { PluginsAdminController } from './plugins-admin.controller';

@Module({ imports: [WorkflowModule], controllers: [PluginsAdminController] })
export class PluginsAdminModule {}

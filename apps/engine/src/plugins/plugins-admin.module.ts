import { Module } from '@nestjs/common';
import { CatalogueModule } from '@aegle/catalogue';
import { RunsModule } from '@aegle/runs';
import { PluginsAdminController } from './plugins-admin.controller';

@Module({ imports: [CatalogueModule, RunsModule], controllers: [PluginsAdminController] })
export class PluginsAdminModule {}

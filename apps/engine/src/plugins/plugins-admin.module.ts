import { Module } from '@nestjs/common';
import { CatalogueModule } from '@aegle/catalogue';
import { PluginsAdminController } from './plugins-admin.controller';

@Module({ imports: [CatalogueModule], controllers: [PluginsAdminController] })
export class PluginsAdminModule {}

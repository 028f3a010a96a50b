import { Module } from '@nestjs/common';
import { CatalogueModule } from '@aegle/catalogue';
import { RunsModule } from '@aegle/runs';
import { ConsoleApiController } from './console-api.controller';
import { ConsoleAssets } from './console-assets';
import { ConsoleAssetsController } from './console-assets.controller';
import { ConsolePlugins } from './console-plugins';

/** The admin console (api role): its static page at /console and the read API it calls. */
@Module({
  imports: [CatalogueModule, RunsModule],
  controllers: [ConsoleApiController, ConsoleAssetsController],
  providers: [ConsoleAssets, ConsolePlugins],
})
export class ConsoleModule {}

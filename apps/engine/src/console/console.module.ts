import { Module } from '@nestjs/common';
import { CatalogueModule } from '@aegle/catalogue';
import { ConsoleApiController } from './console-api.controller';
import { ConsoleAssets } from './console-assets';
import { ConsoleAssetsController } from './console-assets.controller';
import { ConsolePlugins } from './console-plugins';

/** The admin console (api role): its static page at /console and the read API it calls. */
@Module({
  imports: [CatalogueModule],
  controllers: [ConsoleApiController, ConsoleAssetsController],
  providers: [ConsoleAssets, ConsolePlugins],
})
export class ConsoleModule {}

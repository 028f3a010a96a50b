import { BadRequestException, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ConfigError, loadConfig } from '@aegle/config';
import { PluginRegistry } from '@aegle/catalogue';
import { ModelHost } from '@aegle/runs';
import { AdminApi } from '../admin/admin-token.guard';

/** Operators see which plugin versions are loaded and how they roll out, and reload without downtime. */
@ApiTags('plugins')
@AdminApi()
@Controller('admin/plugins')
export class PluginsAdminController {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly host: ModelHost,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Loaded plugin versions, rejected plugins with their problems, rollout and limits',
  })
  @ApiOkResponse({ description: 'the plugin registry as it stands' })
  list() {
    const settings = this.registry.current();
    return {
      loaded: this.registry.all().map((p) => ({
        id: p.manifest.id,
        version: p.manifest.version,
        execution: p.manifest.model.execution,
        // Where this process runs the model; null where it does not (an api-only process, the other queue).
        provider: this.host.providerOf(p.key) ?? null,
        dir: p.dir,
        modelSha256: p.manifest.model.sha256,
        ...this.registry.limitsOf(p),
      })),
      rejected: this.registry.rejections(),
      rollout: settings.rollout,
      packages: settings.packages,
      dirs: settings.dirs,
    };
  }

  @Post('reload')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Re-read the config file’s plugins section and the plugin folders; load new versions without stopping',
  })
  async reload() {
    let plugins;
    try {
      plugins = loadConfig(process.env).plugins;
    } catch (error) {
      if (error instanceof ConfigError)
        throw new BadRequestException({ message: 'the configuration is invalid', problems: error.problems });
      throw error;
    }
    await this.registry.reload(plugins);
    return this.list();
  }
}

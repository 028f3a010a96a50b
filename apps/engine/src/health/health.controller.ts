import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Queue } from 'bullmq';
import { PluginRegistry, QUEUES } from '@aegle/workflow';

/** Liveness and readiness: the database, Redis, and which plugins loaded (or were rejected and why). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly plugins: PluginRegistry,
    @InjectQueue(QUEUES.events) private readonly events: Queue,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 2000 }),
      () => this.redis(),
      () => this.pluginsLoaded(),
    ]);
  }

  private async redis() {
    const check = this.indicator.check('redis');
    try {
      const client = (await this.events.client) as unknown as { ping(): Promise<string> };
      await client.ping();
      return check.up();
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }

  private pluginsLoaded() {
    const check = this.indicator.check('plugins');
    const loaded = this.plugins
      .all()
      .map((p) => ({ id: p.manifest.id, version: p.manifest.version, provider: p.provider }));
    const rejected = this.plugins.rejections();
    return loaded.length > 0
      ? check.up({ loaded, rejected })
      : check.down({ loaded, rejected, message: 'no plugin loaded' });
  }
}

import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Queue } from 'bullmq';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import { PluginRegistry } from '@aegle/catalogue';
import { QUEUES } from '@aegle/jobs';
import { ModelHost } from '@aegle/runs';
import { DrainService } from '../lifecycle/drain.service';

const CHECK_TIMEOUT_MS = 2000;

/** The health endpoints' paths, shared with the deployment manifests' probes (and their test). */
export const HEALTH_PATHS = { live: '/health', ready: '/health/ready' } as const;

/**
 * Liveness (`/health`): the process answers; restarting it would not help with anything else.
 * Readiness (`/health/ready`): it can do its job now: database, Redis, and for a process that runs
 * workers, plugins loaded and every EHR reachable. A draining process is not ready.
 */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly plugins: PluginRegistry,
    private readonly host: ModelHost,
    private readonly drain: DrainService,
    @InjectQueue(QUEUES.events) private readonly events: Queue,
  ) {}

  @Get()
  @HealthCheck()
  live() {
    return this.health.check([
      () => this.indicator.check('process').up({ role: this.config.role, draining: this.drain.isDraining }),
    ]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    // Intake keeps accepting (and queueing) while an EHR or a plugin is down: only workers need them.
    const runsWorkers = this.config.role !== 'api';
    return this.health.check([
      () => this.accepting(),
      () => this.db.pingCheck('database', { timeout: CHECK_TIMEOUT_MS }),
      () => this.redis(),
      ...(runsWorkers
        ? [() => this.pluginsLoaded(), ...this.config.sources.map((s) => () => this.ehr(s))]
        : []),
    ]);
  }

  private accepting() {
    const check = this.indicator.check('lifecycle');
    return this.drain.isDraining ? check.down({ message: 'shutting down' }) : check.up();
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
    const loaded = this.plugins.all().map((p) => ({
      id: p.manifest.id,
      version: p.manifest.version,
      provider: this.host.providerOf(p.key) ?? null,
    }));
    const rejected = this.plugins.rejections();
    return loaded.length > 0
      ? check.up({ loaded, rejected })
      : check.down({ loaded, rejected, message: 'no plugin loaded' });
  }

  /** The EHR answers its CapabilityStatement (`GET [base]/metadata`), with Aegle's credentials. */
  private async ehr(source: SourceConfig) {
    const check = this.indicator.check(`ehr:${source.id}`);
    try {
      const response = await fetch(`${source.fhirBaseUrl}/metadata`, {
        headers: {
          accept: 'application/fhir+json',
          ...(source.auth.type === 'bearer' ? { authorization: `Bearer ${source.auth.token.reveal()}` } : {}),
        },
        signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
      });
      await response.body?.cancel();
      return response.ok ? check.up() : check.down({ message: `GET /metadata answered ${response.status}` });
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }
}

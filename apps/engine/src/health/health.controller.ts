import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import { EhrClients } from '@aegle/fhir';
import { PluginRegistry } from '@aegle/catalogue';
import { JobQueues, QUEUES } from '@aegle/jobs';
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
    private readonly jobs: JobQueues,
    private readonly ehrs: EhrClients,
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
      const client = (await this.jobs.queue(QUEUES.events).client) as unknown as { ping(): Promise<string> };
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

  /** The EHR answers its CapabilityStatement (`GET [base]/metadata`), through Aegle's own client. */
  private async ehr(source: SourceConfig) {
    const check = this.indicator.check(`ehr:${source.id}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
        CHECK_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.ehrs.for(source.id).capabilities(), timeout]);
      return check.up();
    } catch (error) {
      return check.down({ message: (error as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}

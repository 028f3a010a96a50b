import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import { PluginRegistry } from '@aegle/catalogue';
import { InferenceRuntime } from '@aegle/inference';
import { QUEUES } from '@aegle/jobs';
import { ehrOrigin, networkReason } from '@aegle/fhir';
import { SubscriptionManager } from '@aegle/subscriptions';
import { DrainService } from '../lifecycle/drain.service';

const CHECK_TIMEOUT_MS = 2000;

/** The health endpoints' paths, shared with the deployment manifests' probes (and their test). */
export const HEALTH_PATHS = { live: '/health', ready: '/health/ready' } as const;

/**
 * Liveness (`/health`): the process answers; restarting it would not help with anything else. It
 * also lists the models this process holds and their memory, since models are what make an
 * inference process big.
 * Readiness (`/health/ready`): it can do its job now: database, Redis, and for a process that runs
 * workers, plugins loaded and every EHR reachable. A draining process is not ready. Each EHR's
 * check also shows the state of Aegle's Subscriptions there (read from the EHR at most once a
 * minute): `requested` or `error` is reported, not a reason to stop taking work.
 */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly plugins: PluginRegistry,
    private readonly drain: DrainService,
    private readonly inference: InferenceRuntime,
    private readonly subscriptions: SubscriptionManager,
    @InjectQueue(QUEUES.events) private readonly events: Queue,
  ) {}

  @Get()
  @HealthCheck()
  live() {
    return this.health.check([
      () => this.indicator.check('process').up({ role: this.config.role, draining: this.drain.isDraining }),
      () => this.models(),
    ]);
  }

  /** Each loaded model: where it runs, its file size and what loading it added to the process's memory. */
  private models() {
    const { processRssBytes } = this.inference.memoryUsage();
    return this.indicator.check('models').up({
      processRssBytes,
      loaded: this.inference.status().map((m) => ({
        key: m.key,
        provider: m.provider,
        modelBytes: m.memory.modelBytes,
        rssAtLoadBytes: m.memory.rssAtLoadBytes,
      })),
    });
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
      ...(runsWorkers ? [() => this.pluginsLoaded(), ...this.ehrs()] : []),
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
    const loaded = this.plugins
      .all()
      .map((p) => ({ id: p.manifest.id, version: p.manifest.version, provider: p.provider }));
    const rejected = this.plugins.rejections();
    return loaded.length > 0
      ? check.up({ loaded, rejected })
      : check.down({ loaded, rejected, message: 'no plugin loaded' });
  }

  /** One check per EHR; with none configured yet, one that says so (a first run is not a failure). */
  private ehrs() {
    if (this.config.sources.length > 0) return this.config.sources.map((s) => () => this.ehr(s));
    return [
      () =>
        this.indicator.check('ehr').up({
          message: `no EHR configured yet: add a source to ${this.config.configPath} (docs/configuration.md)`,
        }),
    ];
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
      // Never longer than the probe allows: without an answer in time, the last one is not shown.
      const known = await Promise.race([
        this.subscriptions.lastKnown(source.id),
        sleep(CHECK_TIMEOUT_MS, undefined, { ref: false }),
      ]);
      const subscriptions = known && {
        subscriptions: known.subscriptions.map(({ id, status, kind, error }) => ({
          id,
          status,
          kind,
          ...(error ? { error } : {}),
        })),
        subscriptionsCheckedAt: known.checkedAt,
        ...(known.error ? { subscriptionsError: known.error } : {}),
      };
      return response.ok
        ? check.up(subscriptions)
        : check.down({
            message: `${ehrOrigin(source)}: GET /metadata answered ${response.status}`,
            ...subscriptions,
          });
    } catch (error) {
      return check.down({
        message: `${ehrOrigin(source)} unreachable: ${networkReason(error)} (fhirBaseUrl of source '${source.id}' in ${this.config.configPath})`,
      });
    }
  }
}

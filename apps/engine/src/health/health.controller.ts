import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import { EhrClients, ehrOrigin } from '@aegle/fhir';
import { PluginRegistry } from '@aegle/catalogue';
import { InferenceRuntime } from '@aegle/inference';
import { JobQueues, QUEUES } from '@aegle/jobs';
import { ModelHost } from '@aegle/runs';
import { SubscriptionManager } from '@aegle/subscriptions';
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
    private readonly inference: InferenceRuntime,
    private readonly subscriptions: SubscriptionManager,
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
      ...(runsWorkers ? [() => this.pluginsLoaded(), ...this.ehrChecks()] : []),
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

  /** One check per EHR; with none configured yet, one that says so (a first run is not a failure). */
  private ehrChecks() {
    if (this.config.sources.length > 0) return this.config.sources.map((s) => () => this.ehr(s));
    return [
      () =>
        this.indicator.check('ehr').up({
          message: `no EHR configured yet: add a source to ${this.config.configPath} (docs/configuration.md)`,
        }),
    ];
  }

  /**
   * The EHR answers its CapabilityStatement (`GET [base]/metadata`), through Aegle's own client; the
   * state of Aegle's Subscriptions there is shown beside it, never a reason to stop taking work.
   */
  private async ehr(source: SourceConfig) {
    const check = this.indicator.check(`ehr:${source.id}`);
    const [answered, subscriptions] = await Promise.all([
      withinProbe(this.ehrs.for(source.id).capabilities()).then(
        () => undefined,
        (error: Error) => error,
      ),
      withinProbe(this.subscriptions.lastKnown(source.id)).then(subscriptionState, () => undefined),
    ]);
    if (!answered) return check.up(subscriptions);
    const message = answered.message.startsWith('EHR ')
      ? answered.message
      : `${ehrOrigin(source)}: ${answered.message}`;
    return check.down({
      message: `${message} (fhirBaseUrl of source '${source.id}' in ${this.config.configPath})`,
      ...subscriptions,
    });
  }
}

/** Never longer than the probe allows. */
async function withinProbe<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function subscriptionState(known: Awaited<ReturnType<SubscriptionManager['lastKnown']>>) {
  return (
    known && {
      subscriptions: known.subscriptions.map(({ id, status, kind, error }) => ({
        id,
        status,
        kind,
        ...(error ? { error } : {}),
      })),
      subscriptionsCheckedAt: known.checkedAt,
      ...(known.error ? { subscriptionsError: known.error } : {}),
    }
  );
}

import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { UnfinishedWork } from '@aegle/store';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { PluginRegistry } from '@aegle/catalogue';
import { JobQueues } from '@aegle/jobs';

/** Work younger than this is left alone: it is most likely on its way through the queues. */
const GRACE_MS = 5_000;
const BATCH = 1000;

/**
 * PostgreSQL is the record of what is left to do; Redis only carries it. If Redis loses jobs (a
 * restart without persistence, a failover, a flush), this puts unfinished work back on the queues:
 * events not yet routed (a claimed one too: its job re-takes its own claim), runs not yet finished,
 * results not yet written (UnfinishedWork says which). Job ids are the row ids and every processor
 * is idempotent, so re-adding work that is in fact queued (waiting for an older version, say), or
 * done, changes nothing. Work that gave up for good is left to the operator's replay.
 */
@Injectable()
export class WorkReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WorkReconciler.name);
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly work: UnfinishedWork,
    private readonly plugins: PluginRegistry,
    private readonly jobs: JobQueues,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.reconcile(), this.config.reconcileIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Re-queues unfinished work; returns how many jobs were offered to the queues. */
  async reconcile(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const { events, runs, unwritten } = await this.work.find(GRACE_MS, BATCH);
      await Promise.all([
        this.jobs.route(events),
        // A version no longer loaded goes to the CPU queue, where its run records that it is gone.
        this.jobs.run(
          runs.map((r) => ({
            runId: r.id,
            execution: this.plugins.get(r.pluginId, r.pluginVersion)?.manifest.model.execution ?? 'cpu',
          })),
        ),
        this.jobs.write(unwritten),
      ]);
      const total = events.length + runs.length + unwritten.length;
      if (total > 0) {
        this.logger.debug(
          { events: events.length, runs: runs.length, writebacks: unwritten.length },
          'unfinished work offered to the queues again',
        );
      }
      return total;
    } catch (error) {
      this.logger.warn({ reason: (error as Error).message }, 'reconciliation failed; will retry');
      return 0;
    } finally {
      this.running = false;
    }
  }
}

import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { AuditRetention } from '@aegle/store';

const DAY_MS = 24 * 3600 * 1000;

/**
 * Prunes audit records older than `audit.retention.maxAgeDays`, every `checkEveryMinutes`. Several
 * processes may run it: the prune takes a database lock, so they take turns and the later finds little.
 */
@Injectable()
export class AuditRetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AuditRetentionScheduler.name);
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly retention: AuditRetention,
  ) {}

  onApplicationBootstrap(): void {
    const { maxAgeDays, checkEveryMinutes } = this.config.audit.retention;
    if (maxAgeDays === undefined) return;
    this.timer = setInterval(() => void this.pruneNow(), checkEveryMinutes * 60_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async pruneNow(): Promise<void> {
    const maxAgeDays = this.config.audit.retention.maxAgeDays;
    if (maxAgeDays === undefined || this.running) return;
    this.running = true;
    try {
      const result = await this.retention.prune(new Date(Date.now() - maxAgeDays * DAY_MS));
      if (result.checkpoint)
        this.logger.log({ checkpoint: result.checkpoint.seq, pruned: result.pruned }, 'audit records pruned');
    } catch (error) {
      this.logger.error({ reason: (error as Error).message }, 'audit retention prune failed; will retry');
    } finally {
      this.running = false;
    }
  }
}

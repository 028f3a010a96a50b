import { Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AuditQueryRepository } from '@aegle/store';
import { queueDepth, refreshAuditChainHead, reportAuditChainHead } from '@aegle/telemetry';
import { JobQueues, QUEUES } from '@aegle/jobs';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

/**
 * Gauges read from shared state (Redis, the audit trail) rather than counted in-process: refreshed
 * on each scrape, so every process reports the same cluster-wide figures.
 */
@Injectable()
export class ScrapeRefresh {
  private readonly logger = new Logger(ScrapeRefresh.name);
  private readonly queues: Queue[];

  constructor(jobs: JobQueues, audit: AuditQueryRepository) {
    this.queues = Object.values(QUEUES).map((name) => jobs.queue(name));
    reportAuditChainHead(() => audit.chainHead());
  }

  /** A scrape still answers when Redis or the audit trail does not: those gauges keep their last value. */
  async refresh(): Promise<void> {
    await Promise.all([
      ...this.queues.map(async (queue) => {
        try {
          const counts = await queue.getJobCounts(...STATES);
          for (const state of STATES) queueDepth.set({ queue: queue.name, state }, counts[state] ?? 0);
        } catch (error) {
          this.logger.warn(
            { queue: queue.name, reason: (error as Error).message },
            'queue depth unavailable',
          );
        }
      }),
      refreshAuditChainHead().catch((error: unknown) => {
        this.logger.warn({ reason: (error as Error).message }, 'audit chain head unavailable');
      }),
    ]);
  }
}

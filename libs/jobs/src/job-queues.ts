import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { ExecutionNeed } from '@aegle/plugin-sdk/engine';
import { EarlierAttempts, JobPayload, QUEUES, QueueName, runQueueFor } from './queues';
import { traced } from './traced';

/** The job name on each queue: a job is known by its queue, its name and its payload together. */
export const JOB_NAMES = {
  [QUEUES.events]: 'route',
  [QUEUES.runs]: 'run',
  [QUEUES.gpuRuns]: 'run',
  [QUEUES.writeback]: 'write',
} as const satisfies Record<QueueName, string>;

type Bulk<Q extends QueueName> = Array<{ payload: JobPayload<Q>; jobId: string; delay?: number }>;

/**
 * The one way Aegle adds jobs. Each method names what the job does; the queue, the job name and
 * the payload's type come with it, and the current trace is carried along. A job's id is the id
 * of the row it works on (or a replay's own id), so a job is queued at most once.
 */
@Injectable()
export class JobQueues {
  private readonly queues: Record<QueueName, Queue>;

  constructor(
    @InjectQueue(QUEUES.events) events: Queue,
    @InjectQueue(QUEUES.runs) runs: Queue,
    @InjectQueue(QUEUES.gpuRuns) gpuRuns: Queue,
    @InjectQueue(QUEUES.writeback) writeback: Queue,
  ) {
    this.queues = {
      [QUEUES.events]: events,
      [QUEUES.runs]: runs,
      [QUEUES.gpuRuns]: gpuRuns,
      [QUEUES.writeback]: writeback,
    };
  }

  /** Stored events, to be routed. */
  route(eventIds: string[]): Promise<void> {
    return this.addBulk(
      QUEUES.events,
      eventIds.map((eventId) => ({ payload: { eventId }, jobId: eventId })),
    );
  }

  /** Opened plugin runs, each on the run queue of its model's execution need. */
  async run(runs: Array<{ runId: string; execution: ExecutionNeed }>): Promise<void> {
    const byQueue = (queue: typeof QUEUES.runs | typeof QUEUES.gpuRuns) =>
      runs
        .filter((r) => runQueueFor(r.execution) === queue)
        .map(({ runId }) => ({ payload: { runId }, jobId: runId }));
    await Promise.all([
      this.addBulk(QUEUES.runs, byQueue(QUEUES.runs)),
      this.addBulk(QUEUES.gpuRuns, byQueue(QUEUES.gpuRuns)),
    ]);
  }

  /** Finished runs' results, to be written back; a replay passes its own job id. */
  write(runIds: string[], jobId: (runId: string) => string = (runId) => runId): Promise<void> {
    return this.addBulk(
      QUEUES.writeback,
      runIds.map((runId) => ({ payload: { runId }, jobId: jobId(runId) })),
    );
  }

  /** A result whose first write-back attempt (in its run's job) failed: retried after `delayMs`. */
  writeAgain(runId: string, earlierAttempts: EarlierAttempts, delayMs: number): Promise<void> {
    return this.addBulk(QUEUES.writeback, [
      { payload: { runId, earlierAttempts }, jobId: runId, delay: Math.max(0, Math.round(delayMs)) },
    ]);
  }

  /** A failed job's payload, put back on its queue under a new id (see {@link replayable}). */
  async replay(failed: { queue: string; jobName: string; payload: object }, jobId: string): Promise<void> {
    if (!replayable(failed)) throw new Error(`no job ${failed.jobName} on queue ${failed.queue}`);
    await this.queues[failed.queue].add(failed.jobName, failed.payload, { jobId });
  }

  /** The queue itself, to read from (counts, failed sets, its Redis connection); never to add to. */
  queue(name: QueueName): Queue {
    return this.queues[name];
  }

  private async addBulk<Q extends QueueName>(queue: Q, jobs: Bulk<Q>): Promise<void> {
    if (jobs.length === 0) return;
    await this.queues[queue].addBulk(
      jobs.map(({ payload, jobId, delay }) => ({
        name: JOB_NAMES[queue],
        data: traced(payload),
        opts: delay ? { jobId, delay } : { jobId },
      })),
    );
  }
}

/** True when a recorded job's queue still exists and takes jobs of its name. */
export function replayable<T extends { queue: string; jobName: string }>(
  failed: T,
): failed is T & { queue: QueueName } {
  const queue = failed.queue as QueueName;
  return (Object.values(QUEUES) as string[]).includes(queue) && JOB_NAMES[queue] === failed.jobName;
}

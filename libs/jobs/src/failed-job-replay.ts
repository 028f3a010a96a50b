import { Injectable } from '@nestjs/common';
import { FailedJobRepository } from '@aegle/store';
import { JobQueues, replayable } from './job-queues';

export type FailedJobReplayResult =
  | { status: 'queued'; replayJobId: string }
  | { status: 'not-found' | 'already-replayed' | 'unknown-queue'; message: string };

/**
 * Puts a recorded failed job back on its queue, once: the replay is claimed in the database first,
 * so two operators pressing replay together queue it once. The processors are idempotent.
 */
@Injectable()
export class FailedJobReplay {
  constructor(
    private readonly failedJobs: FailedJobRepository,
    private readonly jobs: JobQueues,
  ) {}

  async replay(id: string, actor: string): Promise<FailedJobReplayResult> {
    const failed = await this.failedJobs.get(id);
    if (!failed) return { status: 'not-found', message: `no failed job ${id}` };
    const replayed = {
      status: 'already-replayed',
      message: `failed job ${id} was already replayed`,
    } as const;
    if (failed.replayedAt) return replayed;
    if (!replayable(failed))
      return { status: 'unknown-queue', message: `queue ${failed.queue} no longer exists` };
    const replayJobId = `${failed.jobId}:replay:${id}`;
    if (!(await this.failedJobs.markReplayed(id, actor, replayJobId))) return replayed;
    await this.jobs.replay(failed, replayJobId);
    return { status: 'queued', replayJobId };
  }
}

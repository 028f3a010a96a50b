import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import { FailedJobRepository } from '@aegle/store';
import { failedForGood, finalFailureReason, JobQueues, QUEUES } from '@aegle/jobs';
import { RouterProcessor } from '@aegle/routing';
import { GpuRunProcessor, RunProcessor } from '@aegle/runs';

const SWEEP_INTERVAL_MS = 5 * 60_000;
/** Failed jobs read from Redis per request, and at most per queue and sweep. */
const SWEEP_PAGE = 500;
const SWEEP_LIMIT = 20_000;

/**
 * Records every routing or plugin-run job that gives up for good (retries exhausted, refused as
 * unrecoverable, or failed by BullMQ because the workers holding it kept stopping: see stalled-jobs.ts)
 * as a chained failed job, so nothing accepted disappears silently and an operator can replay it.
 * Write-back keeps its own dead letters (with the EHR's answer) and replay.
 *
 * The worker that fails a job records it at once. Should that write fail (PostgreSQL down at that
 * moment) or the process die first, the job is still in BullMQ's failed set, where no retry or
 * reconciler re-queue can reach it (same job id): a sweep of those sets at start and every few
 * minutes records what is missing. Either path records a job once.
 */
@Injectable()
export class FailedJobRecorder implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(FailedJobRecorder.name);
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly failedJobs: FailedJobRepository,
    private readonly jobs: JobQueues,
    // A worker runs the CPU or the GPU run queue, or both (AEGLE_WORKER_EXECUTION).
    @Optional() private readonly router?: RouterProcessor,
    @Optional() private readonly runs?: RunProcessor,
    @Optional() private readonly gpuRuns?: GpuRunProcessor,
  ) {}

  onApplicationBootstrap(): void {
    for (const processor of [this.router, this.runs, this.gpuRuns]) {
      const worker = processor?.worker;
      if (!worker) continue;
      worker.on('failed', (job, error) => {
        if (job && failedForGood(job, error))
          void this.record(worker.name, job, finalFailureReason(job, error));
      });
    }
    void this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** A sweep in flight finishes before the database pool closes. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.sweeping;
  }

  /** Records the failed jobs of this worker's queues that are not recorded yet; how many it recorded. */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepQueues().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepQueues(): Promise<number> {
    const queues = [
      this.router && this.jobs.queue(QUEUES.events),
      this.runs && this.jobs.queue(QUEUES.runs),
      this.gpuRuns && this.jobs.queue(QUEUES.gpuRuns),
    ].filter((queue): queue is Queue => queue !== undefined);
    let recorded = 0;
    for (const queue of queues) {
      try {
        for (let start = 0; start < SWEEP_LIMIT; start += SWEEP_PAGE) {
          const jobs = (await queue.getFailed(start, start + SWEEP_PAGE - 1)).filter((job) => job?.id);
          if (jobs.length === 0) break;
          const known = await this.failedJobs.recordedJobIds(
            queue.name,
            jobs.map((job) => job.id!),
          );
          for (const job of jobs.filter((j) => !known.has(j.id!))) {
            if (await this.record(queue.name, job, job.failedReason || 'failed (reason not kept)'))
              recorded++;
          }
        }
      } catch (error) {
        this.logger.warn(
          { queue: queue.name, reason: (error as Error).message },
          'failed-job sweep failed; will retry',
        );
      }
    }
    if (recorded > 0)
      this.logger.warn({ recorded }, 'recorded failed jobs that had not been recorded when they failed');
    return recorded;
  }

  /** True when this call recorded it (false: recorded before, or the write failed and was logged). */
  private async record(queue: string, job: Job, reason: string): Promise<boolean> {
    try {
      const id = await this.failedJobs.record({
        queue,
        jobId: job.id ?? '',
        jobName: job.name,
        payload: job.data as object,
        sourceId: null,
        attempts: job.attemptsMade,
        reason,
      });
      return id !== null;
    } catch (failure) {
      this.logger.error(
        { queue, jobId: job.id, reason: (failure as Error).message },
        'could not record a failed job; the next sweep will',
      );
      return false;
    }
  }
}

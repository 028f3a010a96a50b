import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { WorkerHost } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { FailedJobRepository } from '@aegle/audit';
import { QUEUES } from './queues';
import { RouterProcessor } from './router.processor';
import { RunProcessor } from './run.processor';
import { WritebackProcessor } from './writeback.processor';

/**
 * Records every routing or plugin-run job that gives up for good (retries exhausted, or refused as
 * unrecoverable) as a chained failed job, so nothing accepted disappears silently and an operator
 * can replay it. Write-back keeps its own dead letters (with the EHR's answer) and replay.
 */
@Injectable()
export class FailedJobRecorder implements OnApplicationBootstrap {
  private readonly logger = new Logger(FailedJobRecorder.name);

  constructor(
    private readonly failedJobs: FailedJobRepository,
    private readonly router: RouterProcessor,
    private readonly runs: RunProcessor,
    private readonly writeback: WritebackProcessor,
  ) {}

  onApplicationBootstrap(): void {
    for (const processor of [this.router, this.runs, this.writeback] as WorkerHost[]) {
      const worker = processor.worker;
      worker.on('failed', (job, error) => {
        if (!job || worker.name === QUEUES.writeback || !isFinal(job, error)) return;
        this.failedJobs
          .record({
            queue: worker.name,
            jobId: job.id ?? '',
            jobName: job.name,
            payload: job.data as object,
            sourceId: null,
            attempts: job.attemptsMade,
            reason: error.message,
          })
          .catch((failure: unknown) =>
            this.logger.error(
              { queue: worker.name, jobId: job.id, reason: (failure as Error).message },
              'could not record a failed job',
            ),
          );
      });
    }
  }
}

/** A failure BullMQ will not retry. */
function isFinal(job: Job, error: Error): boolean {
  return error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
}

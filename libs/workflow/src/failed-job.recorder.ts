import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { Job } from 'bullmq';
import { FailedJobRepository } from '@aegle/audit';
import { RouterProcessor } from './router.processor';
import { GpuRunProcessor, RunProcessor } from './run.processor';
import { finalFailureReason } from './stalled-jobs';

/**
 * Records every routing or plugin-run job that gives up for good (retries exhausted, refused as
 * unrecoverable, or failed by BullMQ because the workers holding it kept stopping: see stalled-jobs.ts)
 * as a chained failed job, so nothing accepted disappears silently and an operator can replay it.
 * Write-back keeps its own dead letters (with the EHR's answer) and replay.
 */
@Injectable()
export class FailedJobRecorder implements OnApplicationBootstrap {
  private readonly logger = new Logger(FailedJobRecorder.name);

  constructor(
    private readonly failedJobs: FailedJobRepository,
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
        if (!job || !isFinal(job, error)) return;
        this.failedJobs
          .record({
            queue: worker.name,
            jobId: job.id ?? '',
            jobName: job.name,
            payload: job.data as object,
            sourceId: null,
            attempts: job.attemptsMade,
            reason: finalFailureReason(job, error),
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

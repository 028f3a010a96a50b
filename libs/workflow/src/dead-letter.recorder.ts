import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { WorkerHost } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { DeadLetterRepository } from '@aegle/audit';
import { RouterProcessor } from './router.processor';
import { RunProcessor } from './run.processor';
import { WritebackProcessor } from './writeback.processor';

/**
 * Records every job that gives up for good (retries exhausted, or refused as unrecoverable) as a
 * chained dead letter, so nothing accepted disappears silently and an operator can replay it.
 */
@Injectable()
export class DeadLetterRecorder implements OnApplicationBootstrap {
  private readonly logger = new Logger(DeadLetterRecorder.name);

  constructor(
    private readonly deadLetters: DeadLetterRepository,
    private readonly router: RouterProcessor,
    private readonly runs: RunProcessor,
    private readonly writeback: WritebackProcessor,
  ) {}

  onApplicationBootstrap(): void {
    for (const processor of [this.router, this.runs, this.writeback] as WorkerHost[]) {
      const worker = processor.worker;
      worker.on('failed', (job, error) => {
        if (!job || !isFinal(job, error)) return;
        this.deadLetters
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
              'could not record a dead letter',
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

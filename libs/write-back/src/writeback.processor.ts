import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { PluginRunRepository, UnfinishedWork } from '@aegle/store';
import {
  failedForStalling,
  finalFailureReason,
  JobPayload,
  QUEUES,
  Traced,
  writebackBackoff,
} from '@aegle/jobs';
import { ResultWriter } from './result-writer';

/**
 * The write-back attempts after the first: a result whose first attempt (in its run's job) did
 * not land, a replayed dead letter, or a run whose job was taken over after it succeeded. Each
 * attempt re-reads the run and searches the EHR for earlier results afresh (see ResultWriter).
 */
@Processor(QUEUES.writeback, {
  concurrency: 16,
  autorun: false,
  settings: { backoffStrategy: writebackBackoff },
})
export class WritebackProcessor extends WorkerHost {
  private readonly logger = new Logger(WritebackProcessor.name);

  constructor(
    private readonly runs: PluginRunRepository,
    private readonly writer: ResultWriter,
    private readonly unfinished: UnfinishedWork,
  ) {
    super();
  }

  @Traced()
  async process(job: Job<JobPayload<typeof QUEUES.writeback>>, token?: string): Promise<void> {
    const run = await this.runs.get(job.data.runId);
    if (!run) return;
    const earlier = job.data.earlierAttempts;
    const outcome = await this.writer.attempt(
      run,
      (earlier?.count ?? 0) + job.attemptsMade + 1,
      earlier?.firstAt ?? job.timestamp,
    );
    switch (outcome.kind) {
      case 'written':
        return;
      case 'resting':
        await job.moveToDelayed(Date.now() + outcome.delayMs, token);
        throw new DelayedError();
      case 'retrying':
        throw Object.assign(outcome.failure, { retryDelayMs: outcome.delayMs });
      case 'dead':
        throw new UnrecoverableError(outcome.reason);
    }
  }

  /**
   * A job BullMQ failed because the workers holding it kept stopping never reaches `process`: the
   * live worker that failed it opens its dead letter here (see stalled-jobs.ts), so the result is
   * neither lost nor holding back its resource's next version.
   */
  @OnWorkerEvent('failed')
  async onFailed(job: Job<JobPayload<typeof QUEUES.writeback>> | undefined, error: Error): Promise<void> {
    if (!job || !failedForStalling(job, error)) return;
    try {
      // Its worker may have died after the EHR took the result: then there is nothing to give up on.
      if (!(await this.unfinished.awaitsWriteBack(job.data.runId))) return;
      const run = await this.runs.get(job.data.runId);
      if (!run) return;
      const failure = { status: undefined, outcome: undefined, message: finalFailureReason(job, error) };
      await this.writer.deadLetter(run, job.attemptsMade, failure, 'stalled');
    } catch (failure) {
      this.logger.error(
        { runId: job.data.runId, reason: (failure as Error).message },
        'could not record a stalled write-back as a dead letter',
      );
    }
  }
}

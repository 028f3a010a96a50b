import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { FailedJobReplay } from './failed-job-replay';
import { JobQueues } from './job-queues';
import { QUEUES } from './queues';
import { redisConnection } from './redis-connection';

/** Retried with exponential backoff; finished jobs are trimmed, the audit trail keeps the record. */
const defaultJobOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * The Redis connection and the queues between the stages. Every stage that adds jobs does so
 * through JobQueues; the queue processors themselves run only in worker processes.
 */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AEGLE_CONFIG],
      useFactory: (config: AegleConfig) => ({
        connection: redisConnection(config.redisUrl),
        prefix: config.queuePrefix,
        defaultJobOptions,
      }),
    }),
    BullModule.registerQueue(
      { name: QUEUES.events },
      // Plugin runs back off as runBackoff says (RunProcessor): an EHR's Retry-After is honoured.
      { name: QUEUES.runs, defaultJobOptions: { ...defaultJobOptions, backoff: { type: 'run' } } },
      { name: QUEUES.gpuRuns, defaultJobOptions: { ...defaultJobOptions, backoff: { type: 'run' } } },
      {
        name: QUEUES.writeback,
        // Write-back is bounded by each source's retry horizon, not a count (see WritebackProcessor).
        defaultJobOptions: {
          ...defaultJobOptions,
          attempts: Number.MAX_SAFE_INTEGER,
          backoff: { type: 'writeback' },
        },
      },
    ),
  ],
  providers: [JobQueues, FailedJobReplay],
  exports: [BullModule, JobQueues, FailedJobReplay],
})
export class JobsModule {}

import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { EhrClients } from '@aegle/fhir';
import { InferenceModule } from '@aegle/inference';
import { DeadLettersService } from './dead-letters.service';
import { EventEnqueuer } from './event-enqueuer';
import { CatchUpService } from './intake/catch-up.service';
import { SubscriptionManager } from './subscriptions/subscription-manager';
import { IntakeService } from './intake.service';
import { PluginRegistry } from './plugin-registry';
import { QUEUES } from './queues';
import { redisConnection } from './redis-connection';
import { PluginSlots } from './plugin-slots';
import { RunStarter } from './run-starter';

/** Retried with exponential backoff; finished jobs are trimmed, the audit trail keeps the record. */
const defaultJobOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

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
    InferenceModule,
  ],
  // The queue processors live in WorkersModule, so an api-only process runs none.
  providers: [
    EhrClients,
    PluginRegistry,
    PluginSlots,
    RunStarter,
    EventEnqueuer,
    IntakeService,
    CatchUpService,
    SubscriptionManager,
    DeadLettersService,
  ],
  exports: [
    IntakeService,
    CatchUpService,
    SubscriptionManager,
    PluginRegistry,
    PluginSlots,
    RunStarter,
    EhrClients,
    EventEnqueuer,
    BullModule,
    DeadLettersService,
  ],
})
export class WorkflowModule {}

import type { WorkerExecution } from '@aegle/config';
import type { ExecutionNeed } from '@aegle/plugin-sdk/engine';

/**
 * The typed catalogue of Aegle's queues: each name with the payload its jobs carry. Jobs carry ids,
 * never resources; processors re-read what they need, so a retry sees the current state.
 * Plugin runs have one queue per execution need, so GPU machines take the GPU plugins' runs.
 */
export const QUEUES = {
  events: 'aegle-events',
  runs: 'aegle-runs',
  gpuRuns: 'aegle-runs-gpu',
  writeback: 'aegle-writeback',
} as const;

/** Every job carries the W3C `traceparent` of the notification that caused it. */
export interface TraceCarrier {
  traceparent?: string;
}

export interface QueuePayloads {
  [QUEUES.events]: { eventId: string } & TraceCarrier;
  [QUEUES.runs]: { runId: string } & TraceCarrier;
  [QUEUES.gpuRuns]: { runId: string } & TraceCarrier;
  [QUEUES.writeback]: { runId: string; earlierAttempts?: EarlierAttempts } & TraceCarrier;
}

/**
 * Write-back attempts made before the job existed: the run's own job makes the first one, and only
 * a failure hands the result to the write-back queue, which goes on counting (and timing the
 * source's retry horizon) from there.
 */
export interface EarlierAttempts {
  count: number;
  /** When the first attempt started (ms since the epoch). */
  firstAt: number;
}

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export type JobPayload<Q extends QueueName> = QueuePayloads[Q];

/** The run queue for a model's execution need: anything that may use a GPU goes to the GPU queue. */
export function runQueueFor(execution: ExecutionNeed): RunQueue {
  return execution === 'cpu' ? QUEUES.runs : QUEUES.gpuRuns;
}

export type RunQueue = typeof QUEUES.runs | typeof QUEUES.gpuRuns;

/** The run queues a worker takes jobs from, as `AEGLE_WORKER_EXECUTION` says. */
export function consumedRunQueues(execution: WorkerExecution): RunQueue[] {
  const consumed: Record<WorkerExecution, RunQueue[]> = {
    cpu: [QUEUES.runs],
    gpu: [QUEUES.gpuRuns],
    any: [QUEUES.runs, QUEUES.gpuRuns],
  };
  return consumed[execution];
}

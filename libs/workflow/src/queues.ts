/**
 * The typed catalogue of Aegle's queues: each name with the payload its jobs carry. Jobs carry ids,
 * never resources; processors re-read what they need, so a retry sees the current state.
 */
export const QUEUES = {
  events: 'aegle-events',
  runs: 'aegle-runs',
  writeback: 'aegle-writeback',
} as const;

export interface QueuePayloads {
  [QUEUES.events]: { eventId: string };
  [QUEUES.runs]: { runId: string };
  [QUEUES.writeback]: { runId: string };
}

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export type JobPayload<Q extends QueueName> = QueuePayloads[Q];

import { Job, UnrecoverableError } from 'bullmq';

/**
 * Jobs BullMQ fails because the workers holding them kept stopping (SIGKILL, OOM, a hung event loop).
 *
 * Every live worker of a queue runs BullMQ's stalled check (every `AEGLE_STALLED_INTERVAL_MS`): a
 * job whose lock expired goes back on the wait list, and once it has stalled more than
 * `AEGLE_MAX_STALLED_COUNT` times it is also marked to fail (a deferred failure). The next live worker
 * that takes it fails it without running it, emitting 'failed' with an UnrecoverableError, as for any
 * final failure. So the failure is seen by a worker that is alive by construction, exactly once (one
 * worker takes the job), and needs no extra Redis connection (`QueueEvents`) or sweep of the failed
 * sets. But the processor never runs: what it records of its own failures (write-back's dead letters)
 * must be recorded from that event.
 */
export function failedForStalling(job: Job, error: Error): boolean {
  return job.stalledCounter > 0 && job.deferredFailure !== undefined && error.message === job.deferredFailure;
}

/** A failure BullMQ will not retry: refused as unrecoverable, or out of attempts. */
export function failedForGood(job: Job | undefined, error: Error): boolean {
  // By name as well: plugin code may throw from its own realm.
  const unrecoverable = error instanceof UnrecoverableError || error.name === 'UnrecoverableError';
  return unrecoverable || (job ? job.attemptsMade >= (job.opts.attempts ?? 1) : false);
}

/** The reason recorded for a job that gave up; for a stalled one, how often its worker stopped. */
export function finalFailureReason(job: Job, error: Error): string {
  if (!failedForStalling(job, error)) return error.message;
  const times = job.stalledCounter === 1 ? 'once' : `${job.stalledCounter} times`;
  return `the worker holding it stopped ${times}: ${error.message}`;
}

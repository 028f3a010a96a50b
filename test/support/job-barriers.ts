import type { Queue } from 'bullmq';
import { eventually } from './http';

/**
 * Barriers for specs that prove an absence ("no second record shows", "no newer version gets
 * through"): instead of waiting a fixed time, they wait until the thing that could go wrong has had
 * its chances, counted in Redis.
 */

/** How often a worker has taken each job so far (a held job is taken again on each retry); 0 before it is queued. */
export async function timesTaken(queue: Queue, jobIds: string[]): Promise<number[]> {
  const jobs = await Promise.all(jobIds.map((id) => queue.getJob(id)));
  return jobs.map((job) => job?.attemptsStarted ?? 0);
}

/** Waits until a worker has taken each job `more` times since `before` ({@link timesTaken}). */
export async function takenAgain(
  queue: Queue,
  jobIds: string[],
  before: number[],
  more: number,
  what: string,
): Promise<void> {
  await eventually(async () => {
    const now = await timesTaken(queue, jobIds);
    return now.every((n, i) => n >= before[i] + more) ? true : undefined;
  }, what);
}

/**
 * Waits until the queue's stalled check has run `count` times from now. Each run stamps the
 * queue's `stalled-check` key with its time (it is how BullMQ spaces the checks of all workers).
 */
export async function stalledChecksRun(queue: Queue, count: number): Promise<void> {
  const client = await queue.client;
  const key = queue.keys['stalled-check'];
  const seen = new Set<string>();
  const first = await client.get(key);
  await eventually(async () => {
    const stamp = await client.get(key);
    if (stamp && stamp !== first) seen.add(stamp);
    return seen.size >= count ? true : undefined;
  }, `${count} stalled checks of ${queue.name}`);
}

/** Waits until the job's attempts have failed `times` times (each one retried, none given up). */
export async function failedTimes(queue: Queue, jobId: string, times: number, what: string): Promise<void> {
  await eventually(async () => ((await queue.getJob(jobId))?.attemptsMade ?? 0) >= times || undefined, what);
}

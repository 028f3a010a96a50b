import { Queue, QueueEvents } from 'bullmq';
import { QUEUES, redisConnection } from '@aegle/jobs';

/**
 * Watches Aegle's queues under one prefix from outside the app: how much work is pending, and a
 * wait until none is, woken by the queues' own events (no sleeping).
 */
export interface QueueWatch {
  queues: Record<keyof typeof QUEUES, Queue>;
  pending(): Promise<number>;
  /** Workers connected to a queue (BullMQ names their Redis connections). */
  workers(queue: keyof typeof QUEUES): Promise<number>;
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Waits until `condition` holds, re-checking whenever a job finishes on any queue. */
  until(condition: () => Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  /** Removes every job and key under the prefix. */
  obliterate(): Promise<void>;
  close(): Promise<void>;
}

export async function watchQueues(redisUrl: string, prefix: string): Promise<QueueWatch> {
  const connection = redisConnection(redisUrl);
  const queues = Object.fromEntries(
    Object.entries(QUEUES).map(([key, name]) => [key, new Queue(name, { connection, prefix })]),
  ) as Record<keyof typeof QUEUES, Queue>;
  const events = Object.values(QUEUES).map((name) => new QueueEvents(name, { connection, prefix }));
  await Promise.all(events.map((e) => e.waitUntilReady()));

  const pending = async () => {
    const counts = await Promise.all(
      Object.values(queues).map((q) =>
        q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children'),
      ),
    );
    return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
  };
  /** The next job completion or failure on any queue (or a short guard, should an event be missed). */
  const nextQueueEvent = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(guard);
        for (const e of events)
          for (const name of ['completed', 'failed', 'drained'] as const) e.off(name, done);
        resolve();
      };
      const guard = setTimeout(done, 200);
      for (const e of events)
        for (const name of ['completed', 'failed', 'drained'] as const) e.on(name, done);
    });

  const until = async (condition: () => Promise<boolean>, what: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
      await nextQueueEvent();
    }
  };

  return {
    queues,
    pending,
    workers: (queue) => queues[queue].getWorkersCount(),
    waitForIdle(timeoutMs = 20_000) {
      return until(async () => (await pending()) === 0, 'the queues to be idle', timeoutMs);
    },
    until,
    async obliterate() {
      await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true })));
    },
    async close() {
      await Promise.all([...events, ...Object.values(queues)].map((c) => c.close()));
    },
  };
}

import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { EventRepository } from '@aegle/store';
import { GroupCommit } from './group-commit';
import { JobQueues, QUEUES } from '@aegle/jobs';

const ENQUEUE_TIMEOUT_MS = 2_000;
const ENQUEUE_LINGER_MS = 5;

/** Events handed to the queue; `storedAsEnqueued` when the intake wrote them with `enqueued_at` set. */
interface Handover {
  eventIds: string[];
  storedAsEnqueued: boolean;
}
const RELAY_INTERVAL_MS = 2_000;

/**
 * Puts stored events on the events queue, and relays those that could not be queued (Redis down)
 * once it is back: the transactional-outbox half of "nothing accepted is ever lost".
 */
@Injectable()
export class EventEnqueuer
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(EventEnqueuer.name);
  private relayTimer: NodeJS.Timeout | undefined;
  private relaying = false;
  /** Enqueued ids whose `enqueued_at` is written in the background, many per UPDATE. */
  private toMark: string[] = [];
  private marking: Promise<void> | undefined;
  /**
   * Events go to Redis many per addBulk: those handed over while one is in flight, or within a few
   * ms of each other (nobody waits on this, and under steady load one addBulk per request cost
   * the api more CPU than the request's database write).
   */
  private readonly batcher = new GroupCommit<Handover, boolean>((batches) => this.enqueueBatches(batches), {
    maxInFlight: 1,
    maxBatch: 500,
    lingerMs: ENQUEUE_LINGER_MS,
  });
  private queueDown = false;
  /** The queue's Redis connection, once open: whether it is up is read without waiting. */
  private redis: { status: string } | undefined;

  constructor(
    private readonly jobs: JobQueues,
    private readonly events: EventRepository,
  ) {}

  onApplicationBootstrap(): void {
    // Not awaited: with Redis down at boot, Aegle starts anyway and intake fills the outbox.
    this.jobs.queue(QUEUES.events).client.then(
      (client) => (this.redis = client),
      () => undefined,
    );
    this.relayTimer = setInterval(() => void this.relay(), RELAY_INTERVAL_MS);
    this.relayTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.relayTimer);
  }

  /**
   * Before the queue and the database pool close: events handed over are enqueued and marked (else
   * the relay re-enqueues them after a restart, harmlessly).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.settled();
  }

  /** Resolves once every event handed over so far is in Redis (or back in the outbox), and marked. */
  async settled(): Promise<void> {
    await this.batcher.settled();
    await this.marking;
  }

  /**
   * Puts the events on the queue; false (events left in the outbox) when Redis is unreachable.
   * Job id = event id, so a repeated enqueue of the same event is a no-op in BullMQ.
   */
  async enqueue(eventIds: string[]): Promise<boolean> {
    if (eventIds.length === 0) return true;
    return this.batcher.submit({ eventIds, storedAsEnqueued: false });
  }

  /** Whether Redis looks reachable now (the intake then stores its events as enqueued). */
  queueLooksReachable(): boolean {
    return !this.queueDown && this.redis?.status === 'ready';
  }

  /**
   * Enqueues events committed as enqueued (`enqueued_at` set) without making the caller wait for
   * Redis. Should Redis refuse them, they go back to the outbox for the relay; should the process
   * die first, the work reconciler finds them (accepted, enqueued, not routed) and queues them.
   */
  enqueueInBackground(eventIds: string[]): void {
    if (eventIds.length > 0) void this.batcher.submit({ eventIds, storedAsEnqueued: true });
  }

  private async enqueueBatches(batches: Handover[]): Promise<PromiseSettledResult<boolean>[]> {
    const value = await this.enqueueNow(batches.flatMap((b) => b.eventIds));
    // Rows whose mark is now wrong: queued but stored as not (the relay's), or the other way round.
    const toChange = batches.filter((b) => b.storedAsEnqueued !== value).flatMap((b) => b.eventIds);
    if (toChange.length === 0) return batches.map(() => ({ status: 'fulfilled', value }));
    if (value) {
      // A crash before the mark only means the relay enqueues again: same job id, a no-op.
      this.toMark.push(...toChange);
      this.marking ??= this.flushMarks();
    } else {
      await this.events.markUnqueued(toChange).catch((error: unknown) => {
        this.logger.warn(
          { reason: (error as Error).message },
          'could not return events to the outbox; the work reconciler will queue them',
        );
      });
    }
    return batches.map(() => ({ status: 'fulfilled', value }));
  }

  private async enqueueNow(eventIds: string[]): Promise<boolean> {
    try {
      // Redis known to be down: straight to the outbox, without making the EHR wait for a timeout.
      const client = await this.jobs.queue(QUEUES.events).client;
      if (client.status !== 'ready') throw new Error(`redis is ${client.status}`);
      await withTimeout(this.jobs.route(eventIds), ENQUEUE_TIMEOUT_MS);
      if (this.queueDown) this.logger.log('queue reachable again; enqueueing resumed');
      this.queueDown = false;
      return true;
    } catch (error) {
      // Once per outage, not once per notification.
      if (!this.queueDown) {
        this.logger.warn(
          { reason: (error as Error).message },
          'queue unavailable; events kept in the outbox',
        );
      }
      this.queueDown = true;
      return false;
    }
  }

  /** Enqueues events that were stored but never queued. */
  async relay(): Promise<number> {
    if (this.relaying) return 0;
    this.relaying = true;
    try {
      let total = 0;
      for (;;) {
        // Ids being enqueued or marked would be found (and enqueued) again.
        await this.batcher.settled();
        await this.marking;
        const ids = await this.events.findUnqueued(500);
        if (ids.length === 0 || !(await this.enqueue(ids))) return total;
        total += ids.length;
      }
    } catch (error) {
      this.logger.warn({ reason: (error as Error).message }, 'outbox relay failed; will retry');
      return 0;
    } finally {
      this.relaying = false;
    }
  }

  private async flushMarks(): Promise<void> {
    try {
      while (this.toMark.length > 0) {
        const ids = this.toMark.splice(0, 5_000);
        await this.events.markEnqueued(ids).catch((error: unknown) => {
          this.logger.warn(
            { reason: (error as Error).message },
            'could not mark events enqueued; relay will',
          );
        });
      }
    } finally {
      this.marking = undefined;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { EventRepository } from '@aegle/audit';
import { QUEUES } from './queues';
import { traced } from './traced';

const ENQUEUE_TIMEOUT_MS = 2_000;
const RELAY_INTERVAL_MS = 2_000;

/**
 * Puts stored events on the events queue, and relays those that could not be queued (Redis down)
 * once it is back: the transactional-outbox half of "nothing accepted is ever lost".
 */
@Injectable()
export class EventEnqueuer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventEnqueuer.name);
  private relayTimer: NodeJS.Timeout | undefined;
  private relaying = false;

  constructor(
    @InjectQueue(QUEUES.events) private readonly queue: Queue,
    private readonly events: EventRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.relayTimer = setInterval(() => void this.relay(), RELAY_INTERVAL_MS);
    this.relayTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.relayTimer);
  }

  /** Job id = event id, so a repeated enqueue of the same event is a no-op in BullMQ. */
  async enqueue(eventIds: string[]): Promise<boolean> {
    if (eventIds.length === 0) return true;
    try {
      await withTimeout(
        this.queue.addBulk(
          eventIds.map((eventId) => ({ name: 'route', data: traced({ eventId }), opts: { jobId: eventId } })),
        ),
        ENQUEUE_TIMEOUT_MS,
      );
      await this.events.markEnqueued(eventIds);
      return true;
    } catch (error) {
      this.logger.warn(
        { count: eventIds.length, reason: (error as Error).message },
        'queue unavailable; events kept in the outbox',
      );
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
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

import { Injectable, Logger } from '@nestjs/common';
import { hash } from 'node:crypto';
import { EventRepository, IntakeBatch, IntakeRepository, SubscriptionTouch } from '@aegle/store';
import { normaliseNotification, OperationOutcomeError, RawNotification } from '@aegle/fhir';
import { GroupCommit } from './group-commit';
import { mergeTouches, NotificationRows, notificationRows, ReceivedMeta } from './notification-rows';
import { EventEnqueuer } from './event-enqueuer';

export interface ReceivedNotification extends RawNotification, ReceivedMeta {}

export interface IntakeResult {
  notificationId: string;
  accepted: number;
  duplicates: number;
  /** False when the queue could not be reached; the outbox relay will enqueue them. */
  queued: boolean;
  /** What the notification was (shape and, for topic-based ones, its type). */
  shape: string;
}

interface Stored {
  accepted: string[];
  /** Stored as enqueued, to be queued right after the commit (else left to the outbox relay). */
  queued: boolean;
}

/** PostgreSQL data exceptions and limits (text it cannot store, nesting too deep): the body's fault. */
const DATA_EXCEPTION = /^(22|54)/;

/** A stored notification: the answer for its sender, and what catch-up checks for gaps. */
export interface WrittenNotification {
  result: IntakeResult;
  subscription: SubscriptionTouch;
  /** The notification itself showed a gap (a catch-up row was written with it). */
  openedCatchUp: boolean;
}

/**
 * Turns a notification into durable, queued events: the one writer that the HTTP intake and the
 * catch-up of missed events both use, so recovered events are stored and deduplicated alike. The
 * database write comes first: once it commits nothing can be lost, and the EHR is answered 2xx only
 * after it. Concurrent notifications share one write (group commit) and one enqueue, which happens
 * after the answer.
 */
@Injectable()
export class NotificationWriter {
  private readonly logger = new Logger(NotificationWriter.name);
  private readonly recorded = new WeakSet<Error>();
  /**
   * One write in flight: writes take turns on the audit chain head anyway (each holds it until its
   * commit), so a second one would only wait in PostgreSQL while splitting the batch that forms
   * meanwhile in two, doubling the commits (`npm run bench:intake` measured fewer, larger batches
   * faster).
   */
  private readonly batches = new GroupCommit<NotificationRows, Stored>((items) => this.writeBatch(items), {
    maxInFlight: 1,
    maxBatch: 200,
  });

  constructor(
    private readonly events: EventRepository,
    private readonly intake: IntakeRepository,
    private readonly enqueuer: EventEnqueuer,
  ) {}

  /** Resolves once the writes in flight have committed (an event being committed now is late, not missing). */
  settled(): Promise<void> {
    return this.batches.settled();
  }

  async write(notification: ReceivedNotification): Promise<WrittenNotification> {
    let rows: NotificationRows;
    try {
      rows = notificationRows(notification, normaliseNotification(notification));
    } catch (error) {
      if (error instanceof OperationOutcomeError) await this.reject(notification, error);
      throw error;
    }
    let stored: Stored;
    try {
      stored = await this.batches.submit(rows);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && DATA_EXCEPTION.test(code)) {
        const refusal = OperationOutcomeError.badRequest('the notification holds text that cannot be stored');
        await this.reject(notification, refusal);
        throw refusal;
      }
      throw error;
    }
    // The EHR's answer waits for the commit, not for Redis.
    if (stored.queued) this.enqueuer.enqueueInBackground(stored.accepted);
    return {
      result: {
        notificationId: rows.notification.id,
        accepted: stored.accepted.length,
        duplicates: rows.events.length - stored.accepted.length,
        queued: stored.queued || stored.accepted.length === 0,
        shape: rows.notification.shape ?? 'unknown',
      },
      subscription: rows.subscription,
      openedCatchUp: rows.catchUps.length > 0,
    };
  }

  /**
   * Records a refusal (once, however many layers see the error); a failure to record it must not
   * turn the client's 4xx into a 5xx.
   */
  async reject(meta: ReceivedMeta, error: OperationOutcomeError): Promise<void> {
    if (this.recorded.has(error)) return;
    this.recorded.add(error);
    try {
      await this.events.recordRejected({
        sourceId: meta.sourceId,
        contentType: meta.contentType ?? null,
        bodySha256: hash('sha256', meta.bodyBytes, 'hex'),
        bodyBytes: meta.bodyBytes.length,
        headers: meta.recordedHeaders,
        shape: null,
        httpStatus: error.status,
        error: error.message.slice(0, 2000),
      });
    } catch (failure) {
      this.logger.warn({ reason: (failure as Error).message }, 'could not record a refused notification');
    }
  }

  /**
   * One statement for the whole batch (atomic: all or nothing). Should it fail, each item is
   * written alone, so one bad notification never fails its neighbours.
   */
  private async writeBatch(items: NotificationRows[]): Promise<PromiseSettledResult<Stored>[]> {
    const store = async (batch: NotificationRows[]) => {
      const queued = this.enqueuer.queueLooksReachable();
      const inserted = await this.intake.writeBatch(batchOf(batch), queued);
      return batch.map((item) => ({
        accepted: item.events.filter((e) => inserted.has(e.id)).map((e) => e.id),
        queued,
      }));
    };
    try {
      return (await store(items)).map((value) => ({ status: 'fulfilled', value }));
    } catch (error) {
      if (items.length === 1) return [{ status: 'rejected', reason: error }];
      return Promise.allSettled(items.map(async (item) => (await store([item]))[0]));
    }
  }
}

function batchOf(items: NotificationRows[]): IntakeBatch {
  return {
    notifications: items.map((i) => i.notification),
    events: items.flatMap((i) => i.events),
    subscriptions: mergeTouches(items.map((i) => i.subscription)),
    catchUps: items.flatMap((i) => i.catchUps),
  };
}

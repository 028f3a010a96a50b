import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { EventRepository, NewEvent } from '@aegle/audit';
import { deduplicationKey, normaliseNotification, OperationOutcomeError, RawNotification } from '@aegle/fhir';
import { EventEnqueuer } from './event-enqueuer';

export interface ReceivedNotification extends RawNotification {
  sourceId: string;
  bodyBytes: Buffer;
  contentType?: string;
  headers: Record<string, string>;
}

export interface IntakeResult {
  notificationId: string;
  accepted: number;
  duplicates: number;
  /** False when the queue could not be reached; the outbox relay will enqueue them. */
  queued: boolean;
}

/**
 * Turns a verified notification into durable, queued events. The database write comes first: once
 * it commits nothing can be lost, and the EHR is answered 2xx only after it.
 */
@Injectable()
export class IntakeService {
  private readonly logger = new Logger(IntakeService.name);

  constructor(
    private readonly events: EventRepository,
    private readonly enqueuer: EventEnqueuer,
  ) {}

  async accept(notification: ReceivedNotification): Promise<IntakeResult> {
    const base = {
      sourceId: notification.sourceId,
      contentType: notification.contentType ?? null,
      bodySha256: createHash('sha256').update(notification.bodyBytes).digest('hex'),
      bodyBytes: notification.bodyBytes.length,
      headers: notification.headers,
    };
    let normalised;
    try {
      normalised = normaliseNotification(notification);
    } catch (error) {
      if (error instanceof OperationOutcomeError) {
        await this.events.recordRejected({
          ...base,
          shape: null,
          httpStatus: error.status,
          error: error.message,
        });
      }
      throw error;
    }
    const rows: NewEvent[] = normalised.events.map((event) => ({
      subscription: event.subscription ?? null,
      topic: event.topic ?? null,
      eventNumber: event.eventNumber ?? null,
      interaction: event.interaction,
      focusType: event.focus.resourceType,
      focusId: event.focus.id,
      focusVersion: event.focus.versionId ?? null,
      resource: event.resource ?? null,
      dedupKey: deduplicationKey(notification.sourceId, event),
    }));
    const recorded = await this.events.record(
      { ...base, shape: normalised.shape, httpStatus: 200, error: null },
      rows,
    );
    const queued = await this.enqueuer.enqueue(recorded.accepted);
    this.logger.debug(
      {
        notificationId: recorded.notificationId,
        accepted: recorded.accepted.length,
        duplicates: recorded.duplicates,
      },
      'notification accepted',
    );
    return {
      notificationId: recorded.notificationId,
      accepted: recorded.accepted.length,
      duplicates: recorded.duplicates,
      queued,
    };
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource, In, IsNull } from 'typeorm';
import { EventEntity, EventStatus, NotificationEntity } from './entities';

export type NewNotification = Omit<NotificationEntity, 'id' | 'receivedAt' | 'eventCount'>;
export type NewEvent = Pick<
  EventEntity,
  | 'subscription'
  | 'topic'
  | 'interaction'
  | 'focusType'
  | 'focusId'
  | 'focusVersion'
  | 'resource'
  | 'dedupKey'
> & { eventNumber: number | null };

export interface RecordedNotification {
  notificationId: string;
  /** Events new to Aegle, in notification order; duplicates of earlier ones are left out. */
  accepted: string[];
  duplicates: number;
}

/** Received notifications and their normalised events: the intake's durable record and outbox. */
@Injectable()
export class EventRepository {
  constructor(private readonly db: DataSource) {}

  /** Stores a notification and its events in one transaction; an event already seen is not stored again. */
  async record(notification: NewNotification, events: NewEvent[]): Promise<RecordedNotification> {
    return this.db.transaction(async (tx) => {
      const saved = await tx.insert(NotificationEntity, { ...notification, eventCount: events.length });
      const notificationId = saved.identifiers[0].id as string;
      if (events.length === 0) return { notificationId, accepted: [], duplicates: 0 };
      const rows = events.map((e) => ({
        ...e,
        eventNumber: e.eventNumber === null ? null : String(e.eventNumber),
        notificationId,
        sourceId: notification.sourceId,
      }));
      const result = await tx
        .createQueryBuilder()
        .insert()
        .into(EventEntity)
        .values(rows)
        .orIgnore()
        .returning(['id'])
        .execute();
      const accepted = (result.raw as Array<{ id: string }>).map((r) => r.id);
      return { notificationId, accepted, duplicates: events.length - accepted.length };
    });
  }

  /** Records a notification that was refused, so bad input leaves a trace too. */
  async recordRejected(notification: NewNotification): Promise<void> {
    await this.db.getRepository(NotificationEntity).insert({ ...notification, eventCount: 0 });
  }

  async markEnqueued(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.getRepository(EventEntity).update({ id: In(ids) }, { enqueuedAt: () => 'now()' });
  }

  /** Events stored but never put on the queue (Redis was down): the outbox relay's work. */
  async findUnqueued(limit: number): Promise<string[]> {
    const rows = await this.db.getRepository(EventEntity).find({
      select: { id: true },
      where: { enqueuedAt: IsNull() },
      order: { createdAt: 'ASC' },
      take: limit,
    });
    return rows.map((r) => r.id);
  }

  get(id: string): Promise<EventEntity | null> {
    return this.db.getRepository(EventEntity).findOneBy({ id });
  }

  async setStatus(id: string, status: EventStatus, reason: string | null = null): Promise<void> {
    await this.db.getRepository(EventEntity).update({ id }, { status, reason });
  }
}

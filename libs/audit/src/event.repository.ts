import { Injectable } from '@nestjs/common';
import { DataSource, In, IsNull } from 'typeorm';
import { AuditChain, chained, ChainedRow, returningChained } from './chain';
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
  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
  ) {}

  /** Stores a notification and its events in one transaction; an event already seen is not stored again. */
  record(notification: NewNotification, events: NewEvent[]): Promise<RecordedNotification> {
    return this.chain.write(async (tx) => {
      const saved = await tx
        .createQueryBuilder()
        .insert()
        .into(NotificationEntity)
        .values({ ...notification, eventCount: events.length })
        .returning(returningChained('notification'))
        .updateEntity(false)
        .execute();
      const [notificationRow] = saved.raw as ChainedRow[];
      const notificationId = notificationRow.id;
      const records = chained('notification', 'received', [notificationRow]);
      if (events.length === 0) return { result: { notificationId, accepted: [], duplicates: 0 }, records };
      const rows = events.map((e) => ({
        ...e,
        eventNumber: e.eventNumber === null ? null : String(e.eventNumber),
        notificationId,
        sourceId: notification.sourceId,
      }));
      const inserted = await tx
        .createQueryBuilder()
        .insert()
        .into(EventEntity)
        .values(rows)
        .orIgnore()
        .returning(returningChained('event'))
        .updateEntity(false)
        .execute();
      const acceptedRows = inserted.raw as ChainedRow[];
      return {
        result: {
          notificationId,
          accepted: acceptedRows.map((r) => r.id),
          duplicates: events.length - acceptedRows.length,
        },
        records: [...records, ...chained('event', 'accepted', acceptedRows)],
      };
    });
  }

  /** Records a notification that was refused, so bad input leaves a trace too. */
  async recordRejected(notification: NewNotification): Promise<void> {
    await this.chain.write(async (tx) => {
      const saved = await tx
        .createQueryBuilder()
        .insert()
        .into(NotificationEntity)
        .values({ ...notification, eventCount: 0 })
        .returning(returningChained('notification'))
        .updateEntity(false)
        .execute();
      return { result: undefined, records: chained('notification', 'rejected', saved.raw as ChainedRow[]) };
    });
  }

  /** The outbox mark is operational state, left out of the event's audited content. */
  async markEnqueued(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.getRepository(EventEntity).update({ id: In(ids) }, { enqueuedAt: () => 'now()' });
  }

  /** Back to the outbox: events stored as enqueued whose enqueue then failed. */
  async markUnqueued(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.getRepository(EventEntity).update({ id: In(ids) }, { enqueuedAt: null });
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
    await this.chain.write(async (tx) => {
      const updated = await tx
        .createQueryBuilder()
        .update(EventEntity)
        .set({ status, reason })
        .where('id = :id', { id })
        .returning(returningChained('event'))
        .updateEntity(false)
        .execute();
      return { result: undefined, records: chained('event', status, updated.raw as ChainedRow[]) };
    });
  }
}

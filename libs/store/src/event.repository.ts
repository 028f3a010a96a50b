import { Injectable } from '@nestjs/common';
import { DataSource, In, IsNull } from 'typeorm';
import { AuditChain, chained, ChainedRow, contentHashSql, returningChained } from './audit-chain';
import { EntityColumns } from './entity-columns';
import { EventEntity, NotificationEntity } from './entities';
import { PreparedStatement } from './prepared-statement';

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
  private readonly columns: EntityColumns<EventEntity>;
  /** Built on first use, from the entity's metadata. */
  private getEvent?: PreparedStatement<EventEntity>;

  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
  ) {
    this.columns = new EntityColumns(db, EventEntity);
  }

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

  async get(id: string): Promise<EventEntity | null> {
    this.getEvent ??= new PreparedStatement(
      'aegle_event',
      `SELECT ${this.columns.select('e')} FROM event e WHERE e.id = $1`,
    );
    const [row] = await this.getEvent.run(this.db, [id]);
    return row ?? null;
  }

  /**
   * Records on an event that arrived without a version (`id-only`) the version its router read, and
   * that resource, so its runs read the same version, its results are keyed on it, and the version is
   * claimed once across every path: a later notification or catch-up of it is a duplicate at intake.
   * Returns the id of the event that already brought this version, if one did (then nothing changes).
   */
  recordVersionRead(
    id: string,
    versionKey: string,
    resource: fhir4.Resource & { meta: { versionId: string } },
  ): Promise<{ duplicateOf: string | null }> {
    return this.chain.write<{ duplicateOf: string | null }>(async (tx) => {
      // A savepoint: a concurrent intake of the same version fails the update, not the shared transaction.
      await tx.query('SAVEPOINT version_read');
      try {
        // An UPDATE … RETURNING answers [rows, count].
        const [rows] = (await tx.query(
          `WITH earlier AS (SELECT id FROM event WHERE version_key = $2 AND id <> $1 LIMIT 1)
           UPDATE event SET focus_version = $3, resource = $4::jsonb, version_key = $2
           WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM earlier)
           RETURNING id::text AS id, ${contentHashSql('event')} AS content_sha256`,
          [id, versionKey, resource.meta.versionId, JSON.stringify(resource)],
        )) as [ChainedRow[], number];
        await tx.query('RELEASE SAVEPOINT version_read');
        if (rows.length > 0)
          return { result: { duplicateOf: null }, records: chained('event', 'version-read', rows) };
      } catch (error) {
        if ((error as { code?: string }).code !== '23505') throw error;
        await tx.query('ROLLBACK TO SAVEPOINT version_read');
      }
      const [earlier] = (await tx.query(
        `SELECT id::text AS id FROM event WHERE version_key = $1 AND id <> $2`,
        [versionKey, id],
      )) as Array<{ id: string }>;
      return { result: { duplicateOf: earlier?.id ?? null }, records: [] };
    });
  }
}

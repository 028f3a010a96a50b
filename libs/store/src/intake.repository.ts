import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { NotificationRecord } from './audit-records';
import { returningChained } from './audit-chain';
import { CatchUpEntity, CatchUpStatus, SubscriptionStateEntity } from './entities';
import { PreparedStatement } from './prepared-statement';

/** A notification as the intake writes it (the database dates it). */
export type IntakeNotificationRow = Omit<NotificationRecord, 'receivedAt'>;

export interface IntakeEventRow {
  id: string;
  notificationId: string;
  sourceId: string;
  subscription: string | null;
  topic: string | null;
  eventNumber: number | null;
  interaction: string;
  focusType: string;
  focusId: string;
  focusVersion: string | null;
  /** Serialised JSON, so the batch is serialised once. */
  resourceJson: string | null;
  dedupKey: string;
  versionKey: string | null;
  eventTimestamp: string | null;
}

/** What one batch of notifications tells about one subscription (merged per subscription). */
export interface SubscriptionTouch {
  sourceId: string;
  subscription: string;
  topic: string | null;
  status: string | null;
  /** Event numbers up to this came before Aegle listened; kept from the first notification only. */
  baseline: number | null;
  highest: number | null;
  eventsSinceStart: number | null;
  heartbeat: boolean;
  lastSeenAt: string | null;
}

export interface NewCatchUp {
  sourceId: string;
  subscription: string;
  reason: string;
  fromEvent: number | null;
  toEvent: number | null;
}

export interface IntakeBatch {
  notifications: IntakeNotificationRow[];
  events: IntakeEventRow[];
  subscriptions: SubscriptionTouch[];
  catchUps: NewCatchUp[];
}

export interface CatchUpResult {
  status: Exclude<CatchUpStatus, 'pending'>;
  method: string | null;
  recovered: number;
  error: string | null;
}

/**
 * The intake's durable writes. A whole batch of notifications (from concurrent requests) is one SQL
 * statement, so it commits atomically in one round trip; events already seen are skipped by the
 * unique (subscription, event number) and (resource, version) keys.
 */
@Injectable()
export class IntakeRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Stores the batch, and chains its notifications and new events, in one statement: one round
   * trip, atomic on its own, holding the chain head only from its link to its commit (a separate
   * BEGIN … COMMIT would hold it across two more round trips). Returns the ids of the events that
   * were new. `enqueuedNow`: the caller queues the events right after the commit, so they are
   * stored as enqueued, which spares rewriting each row once queued (should that enqueue fail the
   * caller clears the mark; should the process die first, the work reconciler re-queues them).
   */
  async writeBatch(batch: IntakeBatch, enqueuedNow: boolean): Promise<Set<string>> {
    const [row] = await WRITE_BATCH.run(this.db, [...writeBatchParams(batch), enqueuedNow]);
    return new Set(row.accepted);
  }

  /**
   * Event numbers after the subscription's watermark, up to the highest it has announced (at most
   * `limit` at a time), that neither arrived as an event nor are covered by a catch-up: the gaps.
   * `checkedThrough` is the last number looked at, where the watermark may move once the gaps
   * found have a catch-up.
   */
  async missingEventNumbers(
    sourceId: string,
    subscription: string,
    limit = 10_000,
  ): Promise<{ missing: number[]; checkedThrough: number | null }> {
    const [bounds]: Array<{ low: string | null; high: string | null }> = await this.db.query(
      `SELECT contiguous_through AS low,
              least(greatest(highest_event_number, events_since_start), contiguous_through + $3) AS high
       FROM subscription_state WHERE source_id = $1 AND subscription = $2`,
      [sourceId, subscription, limit],
    );
    if (!bounds || bounds.low === null || bounds.high === null || Number(bounds.high) <= Number(bounds.low)) {
      return { missing: [], checkedThrough: null };
    }
    const rows: Array<{ n: string }> = await this.db.query(
      `SELECT n FROM generate_series($3::bigint + 1, $4::bigint) n
       WHERE NOT EXISTS (SELECT 1 FROM event e WHERE e.source_id = $1 AND e.subscription = $2
                         AND e.event_number = n)
         AND NOT EXISTS (SELECT 1 FROM catch_up c WHERE c.source_id = $1 AND c.subscription = $2
                         AND n BETWEEN c.from_event AND c.to_event)
       ORDER BY n`,
      [sourceId, subscription, bounds.low, bounds.high],
    );
    return { missing: rows.map((r) => Number(r.n)), checkedThrough: Number(bounds.high) };
  }

  /** Everything up to `through` is accounted for; later checks start after it. */
  async advanceWatermark(sourceId: string, subscription: string, through: number): Promise<void> {
    await this.db.query(
      `UPDATE subscription_state SET contiguous_through = greatest(contiguous_through, $3), updated_at = now()
       WHERE source_id = $1 AND subscription = $2`,
      [sourceId, subscription, through],
    );
  }

  async openCatchUp(catchUp: NewCatchUp): Promise<string> {
    const [row]: Array<{ id: string }> = await this.db.query(
      `INSERT INTO catch_up (source_id, subscription, reason, from_event, to_event)
       VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [catchUp.sourceId, catchUp.subscription, catchUp.reason, catchUp.fromEvent, catchUp.toEvent],
    );
    return row.id;
  }

  /** Claims the oldest pending catch-up not tried in this pass (skipping those another worker holds). */
  async claimCatchUp(triedThisPass: string[] = []): Promise<CatchUpEntity | undefined> {
    const [rows]: [Array<{ id: string }>, number] = await this.db.query(
      `UPDATE catch_up SET attempts = attempts + 1 WHERE id = (
         SELECT id FROM catch_up WHERE status = 'pending' AND NOT (id = ANY($1::uuid[]))
         ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
       RETURNING id`,
      [triedThisPass],
    );
    if (rows.length === 0) return undefined;
    return (await this.db.getRepository(CatchUpEntity).findOneBy({ id: rows[0].id })) ?? undefined;
  }

  /** Other pending catch-ups a `_lastUpdated` search for the same subscription answers too. */
  async absorbPendingSearches(sourceId: string, subscription: string, exceptId: string): Promise<number> {
    const [rows]: [unknown[], number] = await this.db.query(
      `UPDATE catch_up SET status = 'done', method = 'search', finished_at = now(),
         error = 'answered by catch-up ' || $3::text
       WHERE source_id = $1 AND subscription = $2 AND status = 'pending' AND id <> $3::uuid
         AND reason IN ('ping', 'heartbeat-overdue')
       RETURNING id`,
      [sourceId, subscription, exceptId],
    );
    return rows.length;
  }

  async finishCatchUp(id: string, result: CatchUpResult): Promise<void> {
    await this.db
      .getRepository(CatchUpEntity)
      .update({ id }, { ...result, finishedAt: () => 'now()' } as never);
  }

  async retryLater(id: string, error: string): Promise<void> {
    await this.db.getRepository(CatchUpEntity).update({ id }, { error });
  }

  async advanceLastSeen(sourceId: string, subscription: string, seen: string): Promise<void> {
    await this.db.query(
      `INSERT INTO subscription_state (source_id, subscription, last_seen_at, updated_at)
       VALUES ($1, $2, $3, now())
       ON CONFLICT (source_id, subscription) DO UPDATE SET
         last_seen_at = greatest(subscription_state.last_seen_at, excluded.last_seen_at), updated_at = now()`,
      [sourceId, subscription, seen],
    );
  }

  state(sourceId: string, subscription: string): Promise<SubscriptionStateEntity | null> {
    return this.db.getRepository(SubscriptionStateEntity).findOneBy({ sourceId, subscription });
  }

  subscriptions(sourceId?: string): Promise<SubscriptionStateEntity[]> {
    return this.db.getRepository(SubscriptionStateEntity).find({
      where: sourceId ? { sourceId } : {},
      order: { sourceId: 'ASC', subscription: 'ASC' },
    });
  }

  catchUps(filter: { sourceId?: string; subscription?: string; limit?: number }): Promise<CatchUpEntity[]> {
    return this.db.getRepository(CatchUpEntity).find({
      where: {
        ...(filter.sourceId ? { sourceId: filter.sourceId } : {}),
        ...(filter.subscription ? { subscription: filter.subscription } : {}),
      },
      order: { createdAt: 'DESC' },
      take: filter.limit ?? 100,
    });
  }

  /**
   * Flags subscriptions silent for longer than their heartbeat allows (once per silence) and opens
   * a catch-up for each; returns the subscriptions newly flagged.
   */
  async flagOverdue(sourceId: string, silentForSeconds: number): Promise<string[]> {
    const rows: Array<{ subscription: string }> = await this.db.query(
      `WITH flagged AS (
         UPDATE subscription_state SET heartbeat_overdue_since = now(), updated_at = now()
         WHERE source_id = $1 AND heartbeat_overdue_since IS NULL
           AND greatest(last_heartbeat_at, last_notification_at) < now() - make_interval(secs => $2)
         RETURNING subscription)
       INSERT INTO catch_up (source_id, subscription, reason)
       SELECT $1, subscription, 'heartbeat-overdue' FROM flagged
       RETURNING subscription`,
      [sourceId, silentForSeconds],
    );
    return rows.map((r) => r.subscription);
  }
}

/**
 * A whole batch of notifications (from concurrent requests) in one statement: one atomic round trip.
 * Notifications and new events are linked into the audit chain (audit_append, which locks the
 * chain head) with the content hashes their inserts return; the new events' ids are the answer.
 * Locks: the chain head, then the subscription_state rows (PostgreSQL finishes CTEs the final
 * query does not read after it); nothing takes them in the other order, so this cannot deadlock.
 */
const WRITE_BATCH_SQL = `WITH n AS (
         INSERT INTO notification (id, source_id, shape, content_type, body_sha256, body_bytes, headers,
                                   http_status, error, event_count)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
                              $7::jsonb[], $8::int[], $9::text[], $10::int[])
         RETURNING ${returningChained('notification')}
       ), e AS (
         INSERT INTO event (id, notification_id, source_id, subscription, topic, event_number, interaction,
                            focus_type, focus_id, focus_version, resource, dedup_key, version_key, event_timestamp,
                            enqueued_at)
         SELECT u.*, CASE WHEN $39::boolean THEN now() END
         FROM unnest($11::uuid[], $12::uuid[], $13::text[], $14::text[], $15::text[], $16::bigint[],
                     $17::text[], $18::text[], $19::text[], $20::text[], $21::jsonb[], $22::text[],
                     $23::text[], $24::text[]) AS u
         ON CONFLICT DO NOTHING
         RETURNING ${returningChained('event')}
       ), s AS (
         INSERT INTO subscription_state AS st (source_id, subscription, topic, status, contiguous_through,
           highest_event_number, events_since_start, last_notification_at, last_heartbeat_at, last_seen_at,
           heartbeat_overdue_since, updated_at)
         SELECT u.source_id, u.subscription, u.topic, u.status, u.baseline, u.highest, u.since_start, now(),
                CASE WHEN u.heartbeat THEN now() END, u.last_seen, NULL, now()
         FROM unnest($25::text[], $26::text[], $27::text[], $28::text[], $29::bigint[], $30::bigint[],
                     $31::bigint[], $32::bool[], $33::timestamptz[])
           AS u(source_id, subscription, topic, status, baseline, highest, since_start, heartbeat, last_seen)
         ON CONFLICT (source_id, subscription) DO UPDATE SET
           topic = coalesce(excluded.topic, st.topic),
           status = coalesce(excluded.status, st.status),
           contiguous_through = coalesce(st.contiguous_through, excluded.contiguous_through),
           highest_event_number = greatest(st.highest_event_number, excluded.highest_event_number),
           events_since_start = greatest(st.events_since_start, excluded.events_since_start),
           last_notification_at = now(),
           last_heartbeat_at = coalesce(excluded.last_heartbeat_at, st.last_heartbeat_at),
           last_seen_at = greatest(st.last_seen_at, excluded.last_seen_at),
           heartbeat_overdue_since = NULL,
           updated_at = now()
       ), c AS (
         INSERT INTO catch_up (source_id, subscription, reason, from_event, to_event)
         SELECT * FROM unnest($34::text[], $35::text[], $36::text[], $37::bigint[], $38::bigint[])
       ), chained AS (
         SELECT 1 AS part, 'notification'::text AS record_type, 'received'::text AS action, id, content_sha256 FROM n
         UNION ALL SELECT 2, 'event', 'accepted', id, content_sha256 FROM e
       )
       SELECT (SELECT audit_append(array_agg(record_type ORDER BY part), array_agg(id ORDER BY part),
                                   array_agg(action ORDER BY part), array_agg(content_sha256 ORDER BY part))
               FROM chained) AS linked,
              (SELECT coalesce(array_agg(id), '{}') FROM e) AS accepted`;
const WRITE_BATCH = new PreparedStatement<{ accepted: string[] }>(
  'aegle_intake_write_batch',
  WRITE_BATCH_SQL,
);

function writeBatchParams(batch: IntakeBatch): unknown[] {
  const n = batch.notifications;
  const e = batch.events;
  const s = batch.subscriptions;
  const c = batch.catchUps;
  return [
    n.map((r) => r.id),
    n.map((r) => r.sourceId),
    n.map((r) => r.shape),
    n.map((r) => r.contentType),
    n.map((r) => r.bodySha256),
    n.map((r) => r.bodyBytes),
    n.map((r) => JSON.stringify(r.headers)),
    n.map((r) => r.httpStatus),
    n.map((r) => r.error),
    n.map((r) => r.eventCount),
    e.map((r) => r.id),
    e.map((r) => r.notificationId),
    e.map((r) => r.sourceId),
    e.map((r) => r.subscription),
    e.map((r) => r.topic),
    e.map((r) => r.eventNumber),
    e.map((r) => r.interaction),
    e.map((r) => r.focusType),
    e.map((r) => r.focusId),
    e.map((r) => r.focusVersion),
    e.map((r) => r.resourceJson),
    e.map((r) => r.dedupKey),
    e.map((r) => r.versionKey),
    e.map((r) => r.eventTimestamp),
    s.map((r) => r.sourceId),
    s.map((r) => r.subscription),
    s.map((r) => r.topic),
    s.map((r) => r.status),
    s.map((r) => r.baseline),
    s.map((r) => r.highest),
    s.map((r) => r.eventsSinceStart),
    s.map((r) => r.heartbeat),
    s.map((r) => r.lastSeenAt),
    c.map((r) => r.sourceId),
    c.map((r) => r.subscription),
    c.map((r) => r.reason),
    c.map((r) => r.fromEvent),
    c.map((r) => r.toEvent),
  ];
}

import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ChainedTable, recordTrail } from './audit-chain';
import type {
  EventRecord,
  NotificationRecord,
  ObservationStory,
  RunRecord,
  RunStory,
  WriteBackRecord,
} from './audit-records';

/** Filters shared by the audit listings; every one optional, all combined with AND. */
export interface AuditScope {
  sourceId?: string;
  pluginId?: string;
  /** `Patient/{id}` */
  patientRef?: string;
  /** Event status, run outcome or write-back outcome, depending on the listing. */
  outcome?: string;
  /** Inclusive lower bound on the record's creation time. */
  from?: Date;
  /** Exclusive upper bound. */
  to?: Date;
}

export interface PageRequest {
  /** Opaque cursor from the previous page's `nextCursor`. */
  cursor?: string;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export class InvalidCursorError extends Error {}

/** Keyset cursor on (created_at, id), newest first: stable under concurrent inserts. */
function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      !Number.isNaN(Date.parse(value[0])) &&
      typeof value[1] === 'string' &&
      /^[0-9a-f-]{36}$/i.test(value[1])
    )
      return [value[0], value[1]];
  } catch {
    // fall through
  }
  throw new InvalidCursorError('the cursor is not one this API issued');
}

const encodeCursor = (createdAt: string, id: string) =>
  Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');

/** Collects WHERE conditions and their parameters. */
class Where {
  readonly params: unknown[] = [];
  private readonly conditions: string[] = [];
  add(sql: (p: (value: unknown) => string) => string): void {
    this.conditions.push(sql((value) => `$${this.params.push(value)}`));
  }
  toString(): string {
    return this.conditions.length ? `WHERE ${this.conditions.join(' AND ')}` : '';
  }
}

export class AmbiguousObservationError extends Error {}

/** ISO 8601 in UTC to the microsecond, so a cursor built from it is exact. */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const EVENT_COLUMNS = `e.id::text AS id, e.notification_id::text AS "notificationId", e.source_id AS "sourceId",
  e.interaction, e.focus_type || '/' || e.focus_id || coalesce('/_history/' || e.focus_version, '') AS focus,
  e.subscription, e.topic, e.event_number::text AS "eventNumber", e.status, e.reason,
  ${iso('e.created_at')} AS "createdAt"`;
const RUN_COLUMNS = `r.id::text AS id, r.event_id::text AS "eventId", r.source_id AS "sourceId",
  r.patient_ref AS "patientRef", r.plugin_id, r.plugin_version, r.model_sha256, r.execution_provider,
  r.inputs, r.outputs, r.latency_ms AS "latencyMs", r.outcome, r.mode, r.triggered_by::text AS "triggeredBy", r.reason, ${iso('r.created_at')} AS "createdAt",
  ${iso('r.finished_at')} AS "finishedAt"`;
const WRITE_BACK_COLUMNS = `w.id::text AS id, w.run_id::text AS "runId", w.source_id AS "sourceId",
  r.plugin_id AS "pluginId", r.patient_ref AS "patientRef", w.resource_type AS "resourceType",
  w.resource_id AS "resourceId", w.identifier, w.attempt, w.http_status AS "httpStatus", w.outcome,
  w.response, ${iso('w.created_at')} AS "createdAt"`;

type RawRun = Omit<RunRecord, 'model'> & {
  plugin_id: string;
  plugin_version: string;
  model_sha256: string;
  execution_provider: string | null;
};

function toRun({ plugin_id, plugin_version, model_sha256, execution_provider, ...rest }: RawRun): RunRecord {
  return {
    ...rest,
    model: {
      pluginId: plugin_id,
      pluginVersion: plugin_version,
      modelSha256: model_sha256,
      executionProvider: execution_provider,
    },
  };
}

/**
 * Read side of the audit trail, for the people who answer for it. Each listing takes the scope it
 * filters by and pages newest first with a keyset cursor.
 */
@Injectable()
export class AuditQueryRepository {
  constructor(private readonly db: DataSource) {}

  /** The newest entry of the hash chain: its sequence number and hash (none before the first). */
  async chainHead(): Promise<{ seq: number; hash: string } | undefined> {
    const [head] = await this.db.query<Array<{ seq: string; entry_hash: string | null }>>(
      `SELECT seq::text AS seq, entry_hash FROM audit_chain_head WHERE id = 1`,
    );
    return head?.entry_hash ? { seq: Number(head.seq), hash: head.entry_hash } : undefined;
  }

  findEvents(scope: AuditScope, page: PageRequest): Promise<Page<EventRecord>> {
    const where = new Where();
    if (scope.sourceId) where.add((p) => `e.source_id = ${p(scope.sourceId)}`);
    if (scope.outcome) where.add((p) => `e.status = ${p(scope.outcome)}`);
    if (scope.pluginId)
      where.add(
        (p) =>
          `EXISTS (SELECT 1 FROM plugin_run r WHERE r.event_id = e.id AND r.plugin_id = ${p(scope.pluginId)})`,
      );
    if (scope.patientRef)
      where.add((p) => {
        const ref = p(scope.patientRef);
        return `(EXISTS (SELECT 1 FROM plugin_run r WHERE r.event_id = e.id AND r.patient_ref = ${ref})
                 OR (e.focus_type = 'Patient' AND 'Patient/' || e.focus_id = ${ref}))`;
      });
    return this.page<EventRecord>(`SELECT ${EVENT_COLUMNS} FROM event e`, 'e', where, scope, page);
  }

  async findRuns(scope: AuditScope, page: PageRequest): Promise<Page<RunRecord>> {
    const where = new Where();
    if (scope.sourceId) where.add((p) => `r.source_id = ${p(scope.sourceId)}`);
    if (scope.pluginId) where.add((p) => `r.plugin_id = ${p(scope.pluginId)}`);
    if (scope.patientRef) where.add((p) => `r.patient_ref = ${p(scope.patientRef)}`);
    if (scope.outcome) where.add((p) => `r.outcome = ${p(scope.outcome)}`);
    const result = await this.page<RawRun>(
      `SELECT ${RUN_COLUMNS} FROM plugin_run r`,
      'r',
      where,
      scope,
      page,
    );
    return { items: result.items.map(toRun), nextCursor: result.nextCursor };
  }

  findWriteBacks(scope: AuditScope, page: PageRequest): Promise<Page<WriteBackRecord>> {
    const where = new Where();
    if (scope.sourceId) where.add((p) => `w.source_id = ${p(scope.sourceId)}`);
    if (scope.pluginId) where.add((p) => `r.plugin_id = ${p(scope.pluginId)}`);
    if (scope.patientRef) where.add((p) => `r.patient_ref = ${p(scope.patientRef)}`);
    if (scope.outcome) where.add((p) => `w.outcome = ${p(scope.outcome)}`);
    return this.page<WriteBackRecord>(
      `SELECT ${WRITE_BACK_COLUMNS} FROM write_back w JOIN plugin_run r ON r.id = w.run_id`,
      'w',
      where,
      scope,
      page,
    );
  }

  /**
   * The story of one Observation Aegle wrote: notification → event → run (inputs with their
   * references and versions, model, outputs) → every write-back attempt, with its audit entries.
   * Null when Aegle never wrote it; `sourceId` narrows it when two EHRs use the same id.
   */
  async observationStory(observationId: string, sourceId?: string): Promise<ObservationStory | null> {
    const written = (await this.db.query(
      `SELECT DISTINCT w.run_id::text AS "runId", w.source_id AS "sourceId", w.identifier
       FROM write_back w
       WHERE w.resource_type = 'Observation' AND w.resource_id = $1 AND ($2::text IS NULL OR w.source_id = $2)`,
      [observationId, sourceId ?? null],
    )) as Array<{ runId: string; sourceId: string; identifier: string }>;
    if (written.length === 0) return null;
    if (new Set(written.map((w) => w.sourceId)).size > 1)
      throw new AmbiguousObservationError(
        `Observation/${observationId} exists on several sources (${[...new Set(written.map((w) => w.sourceId))].join(', ')}): name one`,
      );
    const [{ runId, identifier }] = written;
    const story = (await this.runStory(runId))!;
    return {
      observation: { reference: `Observation/${observationId}`, sourceId: story.run.sourceId, identifier },
      notification: story.notification,
      event: story.event,
      run: story.run,
      writeBacks: story.writeBacks,
      audit: story.audit,
    };
  }

  /**
   * The story of one plugin run: notification → event → run (inputs, model, outputs, timings) →
   * every write-back attempt and any dead letter, with its audit entries. Null for an unknown id.
   */
  async runStory(runId: string): Promise<RunStory | null> {
    const [run] = (await this.db.query(`SELECT ${RUN_COLUMNS} FROM plugin_run r WHERE r.id = $1`, [
      runId,
    ])) as RawRun[];
    if (!run) return null;
    const [event] = (await this.db.query(`SELECT ${EVENT_COLUMNS} FROM event e WHERE e.id = $1`, [
      run.eventId,
    ])) as EventRecord[];
    const [notification] = (await this.db.query(
      `SELECT n.id::text AS id, n.source_id AS "sourceId", ${iso('n.received_at')} AS "receivedAt", n.shape,
              n.content_type AS "contentType", n.body_sha256 AS "bodySha256", n.body_bytes AS "bodyBytes",
              n.headers, n.http_status AS "httpStatus", n.error, n.event_count AS "eventCount"
       FROM notification n WHERE n.id = $1`,
      [event.notificationId],
    )) as NotificationRecord[];
    const writeBacks = (await this.db.query(
      `SELECT ${WRITE_BACK_COLUMNS} FROM write_back w JOIN plugin_run r ON r.id = w.run_id
       WHERE w.run_id = $1 ORDER BY w.created_at, w.attempt`,
      [runId],
    )) as WriteBackRecord[];
    const [deadLetter] = (await this.db.query(
      `SELECT id::text AS id, status, http_status AS "httpStatus", reason FROM dead_letter WHERE run_id = $1`,
      [runId],
    )) as Array<NonNullable<RunStory['deadLetter']>>;
    const written = writeBacks
      .filter(
        (w) => w.resourceType === 'Observation' && w.resourceId && ['created', 'exists'].includes(w.outcome),
      )
      .at(-1);
    const records: Array<{ type: ChainedTable; id: string }> = [
      { type: 'notification', id: notification.id },
      { type: 'event', id: event.id },
      { type: 'plugin_run', id: run.id },
      ...writeBacks.map((w) => ({ type: 'write_back' as const, id: w.id })),
      ...(deadLetter ? [{ type: 'dead_letter' as const, id: deadLetter.id }] : []),
    ];
    return {
      notification,
      event,
      run: toRun(run),
      writeBacks,
      observation: written
        ? { reference: `Observation/${written.resourceId}`, identifier: written.identifier }
        : null,
      deadLetter: deadLetter ?? null,
      audit: await recordTrail(this.db.manager, records),
    };
  }

  private async page<T extends { id: string; createdAt: string }>(
    select: string,
    alias: string,
    where: Where,
    scope: AuditScope,
    page: PageRequest,
  ): Promise<Page<T>> {
    if (scope.from) where.add((p) => `${alias}.created_at >= ${p(scope.from)}`);
    if (scope.to) where.add((p) => `${alias}.created_at < ${p(scope.to)}`);
    if (page.cursor) {
      const [at, id] = decodeCursor(page.cursor);
      where.add((p) => `(${alias}.created_at, ${alias}.id) < (${p(at)}::timestamptz, ${p(id)}::uuid)`);
    }
    const rows = (await this.db.query(
      `${select} ${where} ORDER BY ${alias}.created_at DESC, ${alias}.id DESC LIMIT ${page.limit + 1}`,
      where.params,
    )) as T[];
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: rows.length > page.limit && last ? encodeCursor(last.createdAt, last.id) : null,
    };
  }
}

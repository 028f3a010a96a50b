import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ChainedTable } from './audit-chain';

import {
  TIMELINE_KINDS,
  type TimelineItem,
  type TimelineKind,
  type TimelinePage,
  type Stats,
  type StatsBucket,
  type PluginStats,
} from './console-views';

// Every timeline kind is an audited table: checked here, since console-views.ts imports nothing.
TIMELINE_KINDS satisfies readonly ChainedTable[];

export interface TimelineQuery {
  /** Entries after this sequence number (the live feed), oldest of them first in the page. */
  after?: string;
  /** Entries before this sequence number (older pages). */
  before?: string;
  kinds: readonly TimelineKind[];
  limit: number;
}

export interface StatsQuery {
  from: Date;
  to: Date;
  bucketSeconds: number;
}

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const uuidOf = (kind: TimelineKind) => `CASE WHEN a.record_type = '${kind}' THEN a.record_id::uuid END`;

const TIMELINE_SELECT = `
  SELECT a.seq::text AS seq, ${iso('a.at')} AS at, a.record_type AS kind, a.action, a.record_id AS "recordId",
    coalesce(n.source_id, e.source_id, r.source_id, w.source_id, d.source_id, f.source_id) AS "sourceId",
    coalesce(r.plugin_id, wr.plugin_id, d.plugin_id) AS "pluginId",
    coalesce(r.plugin_version, wr.plugin_version, d.plugin_version) AS "pluginVersion",
    coalesce(e.status, r.outcome, w.outcome, d.status, n.http_status::text, f.queue, aa.http_status::text) AS status,
    coalesce(e.reason, r.reason, d.reason, f.reason, n.error, aa.action) AS reason,
    coalesce(e.focus_type || '/' || e.focus_id || coalesce('/_history/' || e.focus_version, ''),
             w.resource_type || coalesce('/' || w.resource_id, '')) AS resource,
    coalesce(r.id, w.run_id, d.run_id)::text AS "runId",
    coalesce(r.mode, wr.mode) AS mode,
    r.latency_ms AS "latencyMs",
    coalesce(w.http_status, d.http_status, n.http_status, aa.http_status) AS "httpStatus"
  FROM audit_log a
  LEFT JOIN notification n ON n.id = ${uuidOf('notification')}
  LEFT JOIN event e ON e.id = ${uuidOf('event')}
  LEFT JOIN plugin_run r ON r.id = ${uuidOf('plugin_run')}
  LEFT JOIN write_back w ON w.id = ${uuidOf('write_back')}
  LEFT JOIN plugin_run wr ON wr.id = w.run_id
  LEFT JOIN dead_letter d ON d.id = ${uuidOf('dead_letter')}
  LEFT JOIN failed_job f ON f.id = ${uuidOf('failed_job')}
  LEFT JOIN admin_action aa ON aa.id = ${uuidOf('admin_action')}`;

const percentile = (p: number, expr: string) =>
  `round((percentile_cont(${p}) WITHIN GROUP (ORDER BY ${expr}))::numeric, 1)::float8`;

/** The console's read side: a live feed over the audit chain and time-bucketed figures for charts. */
@Injectable()
export class ConsoleQueryRepository {
  constructor(private readonly db: DataSource) {}

  async timeline(query: TimelineQuery): Promise<TimelinePage> {
    const params: unknown[] = [query.kinds];
    const conditions = ['a.record_type = ANY($1::text[])'];
    if (query.after !== undefined) conditions.push(`a.seq > $${params.push(query.after)}::bigint`);
    if (query.before !== undefined) conditions.push(`a.seq < $${params.push(query.before)}::bigint`);
    // Live polling takes the oldest entries after the cursor, so a burst is paged, never skipped.
    const order = query.after !== undefined ? 'ASC' : 'DESC';
    const rows = (await this.db.query(
      `${TIMELINE_SELECT} WHERE ${conditions.join(' AND ')} ORDER BY a.seq ${order} LIMIT ${query.limit + 1}`,
      params,
    )) as TimelineItem[];
    const more = rows.length > query.limit;
    const items = rows.slice(0, query.limit).sort((x, y) => Number(BigInt(y.seq) - BigInt(x.seq)));
    let cursor = items[0]?.seq ?? query.after;
    if (cursor === undefined) {
      const [head] = (await this.db.query(
        `SELECT coalesce(max(seq), 0)::text AS seq FROM audit_log`,
      )) as Array<{
        seq: string;
      }>;
      cursor = head.seq;
    }
    return { items, cursor, more: query.after !== undefined && more };
  }

  async stats({ from, to, bucketSeconds }: StatsQuery): Promise<Stats> {
    const window = [from, to, bucketSeconds];
    const bucketOf = (column: string) => `floor(extract(epoch FROM ${column} - $1::timestamptz) / $3)::int`;
    const buckets = (await this.db.query(
      `WITH slots AS (
         SELECT i, extract(epoch FROM $1::timestamptz)::bigint + i * $3 AS t
         FROM generate_series(0, ceil(extract(epoch FROM $2::timestamptz - $1::timestamptz) / $3)::int - 1) AS i
       ),
       events AS (
         SELECT ${bucketOf('created_at')} AS i, count(*)::int AS n FROM event
         WHERE created_at >= $1 AND created_at < $2 GROUP BY 1
       ),
       runs AS (
         SELECT ${bucketOf('finished_at')} AS i,
           count(*) FILTER (WHERE outcome = 'succeeded')::int AS succeeded,
           count(*) FILTER (WHERE outcome = 'skipped')::int AS skipped,
           count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
           ${percentile(0.5, 'latency_ms')} AS p50, ${percentile(0.95, 'latency_ms')} AS p95
         FROM plugin_run
         -- finished_at has no index (an index would cost every run's completion its HOT update): the
         -- created_at one narrows the scan, with a day's margin for runs that waited in a queue.
         WHERE created_at >= $1::timestamptz - interval '1 day' AND finished_at >= $1 AND finished_at < $2
         GROUP BY 1
       ),
       writes AS (
         SELECT ${bucketOf('w.created_at')} AS i, count(*)::int AS written,
           ${percentile(0.5, 'extract(epoch FROM w.created_at - n.received_at) * 1000')} AS p50,
           ${percentile(0.95, 'extract(epoch FROM w.created_at - n.received_at) * 1000')} AS p95
         FROM write_back w JOIN plugin_run r ON r.id = w.run_id JOIN event e ON e.id = r.event_id
           JOIN notification n ON n.id = e.notification_id
         WHERE w.created_at >= $1 AND w.created_at < $2 AND w.resource_type = 'Observation'
           AND w.outcome IN ('created', 'exists')
         GROUP BY 1
       ),
       dead AS (
         SELECT ${bucketOf('failed_at')} AS i, count(*)::int AS n FROM dead_letter
         WHERE failed_at >= $1 AND failed_at < $2 GROUP BY 1
       )
       SELECT s.t::float8 AS t, coalesce(events.n, 0) AS events, coalesce(runs.succeeded, 0) AS succeeded,
         coalesce(runs.skipped, 0) AS skipped, coalesce(runs.failed, 0) AS failed,
         coalesce(writes.written, 0) AS written, coalesce(dead.n, 0) AS "deadLetters",
         runs.p50 AS "inferenceP50", runs.p95 AS "inferenceP95", writes.p50 AS "endToEndP50", writes.p95 AS "endToEndP95"
       FROM slots s LEFT JOIN events USING (i) LEFT JOIN runs USING (i) LEFT JOIN writes USING (i) LEFT JOIN dead USING (i)
       ORDER BY s.i`,
      window,
    )) as StatsBucket[];
    const plugins = (await this.db.query(
      `SELECT plugin_id AS "pluginId", plugin_version AS "pluginVersion",
         count(*) FILTER (WHERE outcome = 'succeeded')::int AS succeeded,
         count(*) FILTER (WHERE outcome = 'skipped')::int AS skipped,
         count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
         count(*) FILTER (WHERE outcome = 'pending')::int AS pending,
         ${percentile(0.5, 'latency_ms')} AS "inferenceP50", ${percentile(0.95, 'latency_ms')} AS "inferenceP95"
       FROM plugin_run WHERE created_at >= $1 AND created_at < $2
       GROUP BY plugin_id, plugin_version ORDER BY plugin_id, plugin_version`,
      [from, to],
    )) as PluginStats[];
    return { from: from.toISOString(), to: to.toISOString(), bucketSeconds, buckets, plugins };
  }
}

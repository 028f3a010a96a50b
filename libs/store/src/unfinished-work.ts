import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * What "unfinished" means, in SQL, for everything that asks: the router's per-resource claims (an
 * older version still in flight holds the next one back) and the work reconciler (what to put back
 * on the queues). One definition, so the two never disagree about whether a piece of work has ended.
 */

/** SQL: a failed job that gave up on this event or run (`id`), not replayed since. */
export function gaveUpSql(id: string): string {
  return `EXISTS (SELECT 1 FROM failed_job f
                  WHERE coalesce(f.payload->>'eventId', f.payload->>'runId') = ${id}::text
                    AND f.replayed_at IS NULL)`;
}

/**
 * SQL: run `r` holds a result for the EHR that is neither written nor dead-lettered. Shadow runs are
 * audited only, and a run that found nothing (or no patient) has nothing to write.
 */
export function awaitsWriteBackSql(r: string): string {
  return `(${r}.outcome = 'succeeded' AND ${r}.mode <> 'shadow' AND ${r}.patient_ref IS NOT NULL
           AND jsonb_array_length(coalesce(${r}.outputs->'findings', '[]'::jsonb)) > 0
           AND NOT EXISTS (SELECT 1 FROM write_back w
                           WHERE w.run_id = ${r}.id AND w.outcome IN ('created', 'exists', 'dead')))`;
}

/** Work the queues should be carrying: its ids, oldest first. */
export interface UnfinishedWorkItems {
  /** Accepted events that were handed to the queue but not routed. */
  events: string[];
  /** Runs not finished. */
  runs: Array<{ id: string; pluginId: string; pluginVersion: string }>;
  /** Runs whose result awaits its write-back. */
  unwritten: string[];
}

/**
 * Finds what is left to do after Redis lost jobs. Work that gave up for good (a failed job, or a
 * write-back's dead letter) is the operator's to replay, so it is never offered again here.
 */
@Injectable()
export class UnfinishedWork {
  constructor(private readonly db: DataSource) {}

  /** Whether this run's result still awaits its write-back, as {@link awaitsWriteBackSql} says. */
  async awaitsWriteBack(runId: string): Promise<boolean> {
    const [row] = await this.db.query<Array<{ awaits: boolean }>>(
      `SELECT ${awaitsWriteBackSql('r')} AS awaits FROM plugin_run r WHERE r.id = $1`,
      [runId],
    );
    return row?.awaits === true;
  }

  async find(olderThanMs: number, limit: number): Promise<UnfinishedWorkItems> {
    const older = `now() - make_interval(secs => $1::float8 / 1000)`;
    const [events, runs, unwritten] = await Promise.all([
      this.db.query<Array<{ id: string }>>(
        `SELECT e.id FROM event e WHERE e.status = 'accepted' AND e.enqueued_at IS NOT NULL
           AND e.created_at < ${older} AND NOT ${gaveUpSql('e.id')}
         ORDER BY e.created_at LIMIT $2`,
        [olderThanMs, limit],
      ),
      this.db.query<Array<{ id: string; plugin_id: string; plugin_version: string }>>(
        `SELECT r.id, r.plugin_id, r.plugin_version FROM plugin_run r WHERE r.outcome = 'pending'
           AND r.created_at < ${older} AND NOT ${gaveUpSql('r.id')}
         ORDER BY r.created_at LIMIT $2`,
        [olderThanMs, limit],
      ),
      this.db.query<Array<{ id: string }>>(
        `SELECT r.id FROM plugin_run r WHERE ${awaitsWriteBackSql('r')} AND r.finished_at < ${older}
         ORDER BY r.finished_at LIMIT $2`,
        [olderThanMs, limit],
      ),
    ]);
    return {
      events: events.map((e) => e.id),
      runs: runs.map((r) => ({ id: r.id, pluginId: r.plugin_id, pluginVersion: r.plugin_version })),
      unwritten: unwritten.map((r) => r.id),
    };
  }
}

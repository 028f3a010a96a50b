import { EntityManager } from 'typeorm';
import { ChainedTable, contentHashSql } from './chained-tables';
import { AuditLogRow, expectedEntryHash } from './entry-hash';
import type { RecordTrail } from '../audit-records';

/**
 * The chain entries of a few records and a local integrity check of them: each entry's own hash,
 * and each record's current row against its latest entry. (The full walk is `verifyAuditChain`.)
 */
export async function recordTrail(
  db: Pick<EntityManager, 'query'>,
  records: Array<{ type: ChainedTable; id: string }>,
): Promise<RecordTrail> {
  const rows = (await db.query(
    `SELECT a.seq::text AS seq, a.at, a.record_type, a.record_id, a.action, a.content_sha256, a.prev_hash, a.entry_hash
     FROM audit_log a JOIN unnest($1::text[], $2::text[]) AS r(t, i) ON a.record_type = r.t AND a.record_id = r.i
     ORDER BY a.seq`,
    [records.map((r) => r.type), records.map((r) => r.id)],
  )) as AuditLogRow[];
  const problems: string[] = [];
  const latest = new Map<string, { seq: string; contentSha256: string }>();
  for (const row of rows) {
    const recomputed = expectedEntryHash(row);
    if (recomputed !== row.entry_hash) problems.push(`entry ${row.seq} was altered`);
    latest.set(`${row.record_type}|${row.record_id}`, { seq: row.seq, contentSha256: row.content_sha256 });
  }
  for (const record of records) {
    const entry = latest.get(`${record.type}|${record.id}`);
    const [current] = (await db.query(
      `SELECT ${contentHashSql(record.type, 't')} AS hash FROM ${record.type} t WHERE t.id = $1::uuid`,
      [record.id],
    )) as Array<{ hash: string }>;
    if (!entry) problems.push(`${record.type} ${record.id} is not in the chain`);
    else if (!current) problems.push(`${record.type} ${record.id} was deleted`);
    else if (current.hash !== entry.contentSha256)
      problems.push(`${record.type} ${record.id} no longer matches entry ${entry.seq}`);
  }
  return {
    entries: rows.map((r) => ({
      seq: r.seq,
      at: r.at.toISOString(),
      recordType: r.record_type,
      recordId: r.record_id,
      action: r.action,
      entryHash: r.entry_hash,
    })),
    intact: problems.length === 0,
    problems,
  };
}

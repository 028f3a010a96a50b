import { createHash } from 'node:crypto';

/** The hash before the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** What one chain entry commits to: its place, time, the record and its content, and the entry before. */
export interface ChainEntryContent {
  seq: string;
  at: Date;
  recordType: string;
  recordId: string;
  action: string;
  contentSha256: string;
  prevHash: string;
}

/**
 * sha256 of the entry's fields joined by `|` (none of them can contain one: ids are uuids, types and
 * actions are code constants, hashes hex, the time ISO 8601 in UTC to the millisecond). The
 * database's `audit_append` computes the same when it links entries; `verify` recomputes it here.
 */
export function entryHash(entry: ChainEntryContent): string {
  return createHash('sha256')
    .update(
      [
        entry.seq,
        entry.at.toISOString(),
        entry.recordType,
        entry.recordId,
        entry.action,
        entry.contentSha256,
        entry.prevHash,
      ].join('|'),
    )
    .digest('hex');
}

/** An `audit_log` row as the database returns it. */
export interface AuditLogRow {
  seq: string;
  at: Date;
  record_type: string;
  record_id: string;
  action: string;
  content_sha256: string;
  prev_hash: string;
  entry_hash: string;
}

/** The hash a stored entry should have, recomputed from its own fields. */
export function expectedEntryHash(row: AuditLogRow): string {
  return entryHash({
    seq: row.seq,
    at: row.at,
    recordType: row.record_type,
    recordId: row.record_id,
    action: row.action,
    contentSha256: row.content_sha256,
    prevHash: row.prev_hash,
  });
}

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

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

/** sha256 of an unambiguous serialisation (a JSON array) of the entry's fields. */
export function entryHash(entry: ChainEntryContent): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        entry.seq,
        entry.at.toISOString(),
        entry.recordType,
        entry.recordId,
        entry.action,
        entry.contentSha256,
        entry.prevHash,
      ]),
    )
    .digest('hex');
}

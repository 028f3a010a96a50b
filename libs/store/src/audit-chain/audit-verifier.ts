import { DataSource, EntityManager } from 'typeorm';
import { CHAINED_TABLES, ChainedTable, contentHashSql } from './chained-tables';
import { AuditLogRow, expectedEntryHash, GENESIS_HASH } from './entry-hash';

/** One place where the record and the chain disagree. */
export interface BrokenLink {
  /** The chain entry at fault (null for a row that has no entry at all). */
  seq: string | null;
  recordType?: string;
  recordId?: string;
  problem: string;
}

export interface ChainPoint {
  seq: string;
  entryHash: string;
}

export interface VerifyReport {
  valid: boolean;
  /** Where the walk started: genesis, or the checkpoint left by the last retention prune. */
  from: ChainPoint & { checkpoint: boolean };
  head: ChainPoint;
  entriesChecked: number;
  rowsChecked: number;
  /** The first broken link, in chain order. */
  firstBroken: BrokenLink | null;
  /** Every problem found, in chain order (at most `MAX_PROBLEMS`). */
  problems: BrokenLink[];
}

const PAGE = 5_000;
const MAX_PROBLEMS = 100;
const CREATED_AT: Record<ChainedTable, string> = {
  notification: 'received_at',
  event: 'created_at',
  plugin_run: 'created_at',
  write_back: 'created_at',
  dead_letter: 'created_at',
  failed_job: 'created_at',
  admin_action: 'created_at',
  audit_checkpoint: 'created_at',
};

type LogRow = AuditLogRow;

/**
 * Walks the chain from genesis (or the last retention checkpoint): every entry must follow the one
 * before (no gap, its prev hash, its own hash), the head must be the last entry, each record's
 * current row must hash to its latest entry, and no row may exist that the chain never saw.
 */
export interface VerifyOptions {
  /**
   * Entry hashes kept outside the database (printed by an earlier verify): a chain recomputed
   * wholesale by someone with write access still verifies on its own, but not against these.
   */
  anchors?: ChainPoint[];
}

export function verifyAuditChain(db: DataSource, options: VerifyOptions = {}): Promise<VerifyReport> {
  // One snapshot throughout, so writers appending meanwhile cannot look like a broken chain.
  return db.transaction('REPEATABLE READ', async (tx) => {
    await tx.query('SET TRANSACTION READ ONLY');
    return verifyIn(tx, options);
  });
}

async function verifyIn(db: EntityManager, options: VerifyOptions): Promise<VerifyReport> {
  const anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.entryHash]));
  const problems: BrokenLink[] = [];
  const [checkpoint] = (await db.query(
    `SELECT seq::text AS seq, entry_hash, cutoff FROM audit_checkpoint ORDER BY audit_checkpoint.seq DESC LIMIT 1`,
  )) as Array<{ seq: string; entry_hash: string; cutoff: Date }>;
  const from = checkpoint
    ? { seq: checkpoint.seq, entryHash: checkpoint.entry_hash, checkpoint: true }
    : { seq: '0', entryHash: GENESIS_HASH, checkpoint: false };

  let expected = BigInt(from.seq) + 1n;
  let prev = from.entryHash;
  let entriesChecked = 0;
  for (;;) {
    const rows = (await db.query(
      `SELECT seq::text AS seq, at, record_type, record_id, action, content_sha256, prev_hash, entry_hash
       FROM audit_log WHERE seq >= $1 ORDER BY audit_log.seq LIMIT ${PAGE}`,
      [expected.toString()],
    )) as LogRow[];
    for (const row of rows) {
      const seq = BigInt(row.seq);
      const at = { seq: row.seq, recordType: row.record_type, recordId: row.record_id };
      if (seq !== expected) {
        problems.push({
          ...at,
          problem: `entries ${expected}..${seq - 1n} are missing: deleted from the chain`,
        });
      } else if (row.prev_hash !== prev) {
        problems.push({
          ...at,
          problem: `entry ${row.seq} does not link to the entry before it: inserted or re-linked`,
        });
      }
      const recomputed = expectedEntryHash(row);
      if (recomputed !== row.entry_hash) {
        problems.push({
          ...at,
          problem: `entry ${row.seq} was altered: its hash does not match its content`,
        });
      }
      const anchored = anchors.get(row.seq);
      if (anchored !== undefined) {
        anchors.delete(row.seq);
        if (anchored !== row.entry_hash)
          problems.push({
            ...at,
            problem: `entry ${row.seq} differs from its anchored hash: the chain was rewritten`,
          });
      }
      prev = row.entry_hash;
      expected = seq + 1n;
      entriesChecked += 1;
    }
    if (rows.length < PAGE) break;
  }

  for (const [seq] of anchors) {
    // Anchors at or before the checkpoint were pruned with their entries; later ones must be here.
    if (BigInt(seq) > BigInt(from.seq))
      problems.push({ seq, problem: `anchored entry ${seq} is missing from the chain` });
  }

  const [headRow] = (await db.query(
    `SELECT seq::text AS seq, entry_hash FROM audit_chain_head WHERE id = 1`,
  )) as Array<{ seq: string; entry_hash: string }>;
  const head = { seq: headRow.seq, entryHash: headRow.entry_hash };
  const last = (expected - 1n).toString();
  if (head.seq !== last || head.entryHash !== prev) {
    problems.push({
      seq: head.seq,
      problem: `the chain head is entry ${head.seq} but the chain ends at entry ${last}: entries deleted from the end or the head altered`,
    });
  }

  let rowsChecked = 0;
  for (const table of Object.keys(CHAINED_TABLES) as ChainedTable[]) {
    const [{ total }] = (await db.query(
      `SELECT count(DISTINCT record_id)::int AS total FROM audit_log WHERE record_type = $1 AND seq > $2`,
      [table, from.seq],
    )) as Array<{ total: number }>;
    rowsChecked += total;
    const broken = (await db.query(
      `WITH latest AS (
         SELECT DISTINCT ON (record_id) record_id, seq, content_sha256
         FROM audit_log WHERE record_type = $1 AND seq > $2 ORDER BY record_id, seq DESC
       )
       SELECT l.seq::text AS seq, l.record_id, t.id IS NULL AS missing
       FROM latest l LEFT JOIN ${table} t ON t.id = l.record_id::uuid
       WHERE t.id IS NULL OR l.content_sha256 <> ${contentHashSql(table, 't')}
       ORDER BY l.seq LIMIT ${MAX_PROBLEMS}`,
      [table, from.seq],
    )) as Array<{ seq: string; record_id: string; missing: boolean }>;
    for (const row of broken) {
      problems.push({
        seq: row.seq,
        recordType: table,
        recordId: row.record_id,
        problem: row.missing
          ? `${table} ${row.record_id} was deleted: entry ${row.seq} records it`
          : `${table} ${row.record_id} was edited: it no longer matches entry ${row.seq}`,
      });
    }
    const unchained = (await db.query(
      `SELECT t.id::text AS id FROM ${table} t
       WHERE t.${CREATED_AT[table]} >= $2
         AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.record_type = $1 AND a.record_id = t.id::text)
       ORDER BY t.${CREATED_AT[table]} LIMIT ${MAX_PROBLEMS}`,
      [table, checkpoint?.cutoff ?? new Date(0)],
    )) as Array<{ id: string }>;
    for (const row of unchained) {
      problems.push({
        seq: null,
        recordType: table,
        recordId: row.id,
        problem: `${table} ${row.id} is not in the chain: inserted outside Aegle`,
      });
    }
  }

  problems.sort((a, b) => compareSeq(a.seq, b.seq));
  const listed = problems.slice(0, MAX_PROBLEMS);
  return {
    valid: problems.length === 0,
    from,
    head,
    entriesChecked,
    rowsChecked,
    firstBroken: listed[0] ?? null,
    problems: listed,
  };
}

function compareSeq(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** `seq:hash` as `verify` prints the head, e.g. `1042:9f86d0…`. */
export function parseAnchor(value: string): ChainPoint {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(value.trim());
  if (!match) throw new InvalidAnchorError(`"${value}" is not seq:sha256-hex`);
  return { seq: String(BigInt(match[1])), entryHash: match[2] };
}

export class InvalidAnchorError extends Error {}

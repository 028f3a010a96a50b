import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditChain } from './audit-chain';
import { ChainedTable, contentHashSql } from './chained-tables';

export interface PruneResult {
  /** The checkpoint left behind (null when nothing was old enough). */
  checkpoint: { seq: string; entryHash: string } | null;
  pruned: Record<string, number>;
}

/** Children before parents, so foreign keys hold; each with the column that dates it. */
const PRUNE_ORDER: Array<[ChainedTable, string, string | null]> = [
  ['write_back', 'created_at', null],
  ['plugin_run', 'created_at', `NOT EXISTS (SELECT 1 FROM write_back w WHERE w.run_id = t.id)`],
  ['event', 'created_at', `NOT EXISTS (SELECT 1 FROM plugin_run r WHERE r.event_id = t.id)`],
  ['notification', 'received_at', `NOT EXISTS (SELECT 1 FROM event e WHERE e.notification_id = t.id)`],
  ['dead_letter', 'created_at', null],
  ['failed_job', 'created_at', null],
  ['admin_action', 'created_at', null],
];

/**
 * Prunes audit records older than a cutoff without breaking verification: the chain head as of the
 * last entry being pruned is kept as a checkpoint (itself chained), verification starts there, and a
 * row is pruned only when nothing happened to it after the cutoff (its later entries stay checkable).
 */
@Injectable()
export class AuditRetention {
  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
  ) {}

  prune(cutoff: Date): Promise<PruneResult> {
    return this.db.transaction(async (tx) => {
      // One prune at a time across processes; a second one finds nothing left to do.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('aegle.audit_prune'))`);
      const [last] = (await tx.query(
        `SELECT seq::text AS seq, entry_hash FROM audit_log WHERE at < $1 ORDER BY audit_log.seq DESC LIMIT 1`,
        [cutoff],
      )) as Array<{ seq: string; entry_hash: string }>;
      if (!last) return { checkpoint: null, pruned: {} };

      const pruned: Record<string, number> = {};
      for (const [table, createdAt, alsoWhen] of PRUNE_ORDER) {
        pruned[table] = await this.pruneTable(tx, table, createdAt, alsoWhen, cutoff, last.seq);
      }
      await tx.query(`SET LOCAL aegle.audit_prune = 'on'`);
      const removed = (await tx.query(`DELETE FROM audit_log WHERE seq <= $1`, [last.seq])) as [
        unknown,
        number,
      ];
      pruned.audit_log = removed[1];
      await tx.query(`SET LOCAL aegle.audit_prune = 'off'`);

      const [checkpoint] = (await tx.query(
        `INSERT INTO audit_checkpoint (seq, entry_hash, cutoff, pruned) VALUES ($1, $2, $3, $4)
         RETURNING id::text AS id, ${contentHashSql('audit_checkpoint')} AS content_sha256`,
        [last.seq, last.entry_hash, cutoff, pruned],
      )) as Array<{ id: string; content_sha256: string }>;
      await this.chain.link(tx, [
        {
          type: 'audit_checkpoint',
          id: checkpoint.id,
          action: 'pruned',
          contentSha256: checkpoint.content_sha256,
        },
      ]);
      return { checkpoint: { seq: last.seq, entryHash: last.entry_hash }, pruned };
    });
  }

  private async pruneTable(
    tx: EntityManager,
    table: ChainedTable,
    createdAt: string,
    alsoWhen: string | null,
    cutoff: Date,
    lastSeq: string,
  ): Promise<number> {
    const [, count] = (await tx.query(
      `DELETE FROM ${table} t
       WHERE t.${createdAt} < $1
         AND NOT EXISTS (SELECT 1 FROM audit_log a
                         WHERE a.record_type = '${table}' AND a.record_id = t.id::text AND a.seq > $2)
         ${alsoWhen ? `AND ${alsoWhen}` : ''}`,
      [cutoff, lastSeq],
    )) as [unknown, number];
    return count;
  }
}

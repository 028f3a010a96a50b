import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditChain, chained, ChainedRecord, ChainedRow, contentHashSql } from './chain';
import { WriteBackEntity } from './entities';

export type WriteBackAttempt = Omit<WriteBackEntity, 'id' | 'createdAt'>;

/**
 * Attempts inserted from arrays (ids made here, so the answer keeps their order), and optionally the
 * run's open dead letter resolved, in one statement: one round trip however many rows it chains.
 */
const RECORD_SQL = `WITH w AS (
         INSERT INTO write_back (id, run_id, source_id, resource_type, resource_id, identifier, attempt,
                                 http_status, outcome, response)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::int[], $8::int[], $9::text[], $10::jsonb[])
         RETURNING id::text AS id, outcome AS action, ${contentHashSql('write_back')} AS content_sha256),
       d AS (
         UPDATE dead_letter SET status = 'resolved', resolved_at = now()
         WHERE $11::uuid IS NOT NULL AND run_id = $11::uuid AND status <> 'resolved'
         RETURNING id::text AS id, 'resolved' AS action, ${contentHashSql('dead_letter')} AS content_sha256)
       SELECT 'write_back' AS type, id, action, content_sha256 FROM w
       UNION ALL SELECT 'dead_letter' AS type, id, action, content_sha256 FROM d`;

@Injectable()
export class WriteBackRepository {
  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
  ) {}

  /** Records one attempt and chains it; resolves with the attempt's id. */
  async record(attempt: WriteBackAttempt): Promise<string> {
    const [id] = await this.recordAll([attempt]);
    return id;
  }

  /**
   * Records attempts and chains them, in one statement; with `resolveDeadLetterOf` (a run id) the
   * run's dead letter, if it has an open one, is resolved and chained by the same statement.
   * Resolves with the attempts' ids, in order.
   */
  recordAll(attempts: WriteBackAttempt[], resolveDeadLetterOf?: string): Promise<string[]> {
    const ids = attempts.map(() => randomUUID());
    return this.chain.write(async (tx) => {
      const rows = (await tx.query(RECORD_SQL, [
        ids,
        attempts.map((a) => a.runId),
        attempts.map((a) => a.sourceId),
        attempts.map((a) => a.resourceType),
        attempts.map((a) => a.resourceId),
        attempts.map((a) => a.identifier),
        attempts.map((a) => a.attempt),
        attempts.map((a) => a.httpStatus),
        attempts.map((a) => a.outcome),
        attempts.map((a) => (a.response === null ? null : JSON.stringify(a.response))),
        resolveDeadLetterOf ?? null,
      ])) as Array<ChainedRow & { type: 'write_back' | 'dead_letter'; action: string }>;
      const records: ChainedRecord[] = rows.flatMap((row) => chained(row.type, row.action, [row]));
      return { result: ids, records };
    });
  }

  findForRun(runId: string): Promise<WriteBackEntity[]> {
    return this.db.getRepository(WriteBackEntity).find({ where: { runId }, order: { attempt: 'ASC' } });
  }
}

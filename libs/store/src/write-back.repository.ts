import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { Audited, AuditChain, BatchedWrite, contentHashSql } from './audit-chain';
import { WriteBackEntity } from './entities';
import { PreparedStatement } from './prepared-statement';

export type WriteBackAttempt = Omit<WriteBackEntity, 'id' | 'createdAt'>;

/**
 * Attempts inserted from arrays (ids made here, so each is known to its caller), the open dead
 * letters of the given runs resolved, and every row chained, in one statement: one round trip, and
 * no transaction, however many rows it writes. (Ties ordered by id, so the four arrays line up.)
 */
const RECORD = new PreparedStatement<unknown>(
  'aegle_record_write_backs',
  `WITH w AS (
         INSERT INTO write_back (id, run_id, source_id, resource_type, resource_id, identifier, attempt,
                                 http_status, outcome, response)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::int[], $8::int[], $9::text[], $10::jsonb[])
         RETURNING id::text AS id, outcome AS action, ${contentHashSql('write_back')} AS content_sha256),
       d AS (
         UPDATE dead_letter SET status = 'resolved', resolved_at = now()
         WHERE run_id = ANY($11::uuid[]) AND status <> 'resolved'
         RETURNING id::text AS id, run_id::text AS run_id, 'resolved' AS action,
                   ${contentHashSql('dead_letter')} AS content_sha256),
       chained AS (
         SELECT 1 AS part, 'write_back'::text AS type, id, action, content_sha256 FROM w
         UNION ALL SELECT 2, 'dead_letter', id, action, content_sha256 FROM d)
       SELECT audit_append(array_agg(type ORDER BY part, id), array_agg(id ORDER BY part, id),
                           array_agg(action ORDER BY part, id), array_agg(content_sha256 ORDER BY part, id))
       FROM chained`,
);

interface Recording {
  ids: string[];
  attempts: WriteBackAttempt[];
  resolveDeadLetterOf?: string;
}

/** Records and chains the attempts of every write-back in the batch: one statement for all of them. */
class RecordAttempts implements BatchedWrite<Recording, string[]> {
  readonly linksItself = true;

  async run(db: EntityManager, items: Recording[]): Promise<Array<Audited<string[]>>> {
    const attempts = items.flatMap((item) => item.attempts);
    await RECORD.run(db, [
      items.flatMap((item) => item.ids),
      attempts.map((a) => a.runId),
      attempts.map((a) => a.sourceId),
      attempts.map((a) => a.resourceType),
      attempts.map((a) => a.resourceId),
      attempts.map((a) => a.identifier),
      attempts.map((a) => a.attempt),
      attempts.map((a) => a.httpStatus),
      attempts.map((a) => a.outcome),
      attempts.map((a) => (a.response === null ? null : JSON.stringify(a.response))),
      items.flatMap((item) => (item.resolveDeadLetterOf ? [item.resolveDeadLetterOf] : [])),
    ]);
    // A run's dead letter is resolved (and chained) once, however many recordings asked for it.
    return items.map((item) => ({ result: item.ids, records: [] }));
  }
}

@Injectable()
export class WriteBackRepository {
  private readonly recordAttempts = new RecordAttempts();

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
   * Records attempts and chains them, in one statement (shared with the other write-backs of the
   * batch); with `resolveDeadLetterOf` (a run id) the run's dead letter, if it has an open one, is
   * resolved and chained by the same statement. Resolves with the attempts' ids, in order.
   */
  recordAll(attempts: WriteBackAttempt[], resolveDeadLetterOf?: string): Promise<string[]> {
    const ids = attempts.map(() => randomUUID());
    return this.chain.submit(this.recordAttempts, { ids, attempts, resolveDeadLetterOf });
  }

  findForRun(runId: string): Promise<WriteBackEntity[]> {
    return this.db.getRepository(WriteBackEntity).find({ where: { runId }, order: { attempt: 'ASC' } });
  }
}

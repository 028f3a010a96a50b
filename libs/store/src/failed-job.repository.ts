import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditChain, chained, ChainedRow, returningChained } from './audit-chain';
import { FailedJobEntity } from './entities';

export type NewFailedJob = Pick<
  FailedJobEntity,
  'queue' | 'jobId' | 'jobName' | 'payload' | 'sourceId' | 'attempts' | 'reason'
>;

/** Queue jobs that gave up (routing, plugin runs), and their replays: both chained. */
@Injectable()
export class FailedJobRepository {
  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
  ) {}

  /**
   * Records a job that gave up, once: the worker that saw it fail and the sweep of BullMQ's failed
   * sets may both report it, so a job already recorded (same queue and job id) is left as it is and
   * null is returned. Without a `sourceId`, the source is taken from the run or event the payload
   * names, in the same statement, so it is part of the chained content.
   */
  record(letter: NewFailedJob): Promise<string | null> {
    return this.chain.write(async (tx) => {
      // Two reporters of the same failure take turns, so the second sees the first's row.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('failed_job:' || $1 || ':' || $2, 0))`, [
        letter.queue,
        letter.jobId,
      ]);
      const rows = (await tx.query(
        `INSERT INTO failed_job (queue, job_id, job_name, payload, source_id, attempts, reason)
         SELECT $1, $2, $3, $4::jsonb,
                coalesce($5, (SELECT source_id FROM plugin_run WHERE id::text = $4::jsonb->>'runId'),
                             (SELECT source_id FROM event WHERE id::text = $4::jsonb->>'eventId')),
                $6, $7
         WHERE NOT EXISTS (SELECT 1 FROM failed_job WHERE queue = $1 AND job_id = $2)
         RETURNING ${returningChained('failed_job')}`,
        [
          letter.queue,
          letter.jobId,
          letter.jobName,
          JSON.stringify(letter.payload),
          letter.sourceId,
          letter.attempts,
          letter.reason,
        ],
      )) as ChainedRow[];
      return { result: rows[0]?.id ?? null, records: chained('failed_job', 'dead', rows) };
    });
  }

  /** Which of these jobs of `queue` are recorded already. */
  async recordedJobIds(queue: string, jobIds: string[]): Promise<Set<string>> {
    const rows: Array<{ job_id: string }> = await this.db.query(
      `SELECT job_id FROM failed_job WHERE queue = $1 AND job_id = ANY($2::text[])`,
      [queue, jobIds],
    );
    return new Set(rows.map((r) => r.job_id));
  }

  /** Marks a failed job replayed by `actor` as job `replayJobId`; false if it was already replayed. */
  markReplayed(id: string, actor: string, replayJobId: string): Promise<boolean> {
    return this.chain.write(async (tx) => {
      const updated = await tx
        .createQueryBuilder()
        .update(FailedJobEntity)
        .set({ replayedAt: () => 'now()', replayedBy: actor, replayJobId })
        .where('id = :id AND replayed_at IS NULL', { id })
        .returning(returningChained('failed_job'))
        .updateEntity(false)
        .execute();
      const rows = updated.raw as ChainedRow[];
      return { result: rows.length > 0, records: chained('failed_job', 'replayed', rows) };
    });
  }

  /** Newest first; `replayed` narrows to replayed (true) or waiting (false) ones. */
  list(filter: { replayed?: boolean }, limit = 100): Promise<FailedJobEntity[]> {
    const query = this.db
      .getRepository(FailedJobEntity)
      .createQueryBuilder('d')
      .orderBy('d.created_at', 'DESC')
      .take(limit);
    if (filter.replayed !== undefined)
      query.where(filter.replayed ? 'd.replayed_at IS NOT NULL' : 'd.replayed_at IS NULL');
    return query.getMany();
  }

  get(id: string): Promise<FailedJobEntity | null> {
    return this.db.getRepository(FailedJobEntity).findOneBy({ id });
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdminActionRepository } from './admin-action.repository';
import { AuditChain, chained, ChainedRow, returningChained } from './audit-chain';
import { DeadLetterEntity, DeadLetterStatus } from './entities';

export interface DeadLetterFilter {
  status?: DeadLetterStatus[];
  sourceId?: string;
  pluginId?: string;
  httpStatus?: number;
  /** Failed at or after this time. */
  since?: Date;
  /** Failed before this time. */
  before?: Date;
  limit?: number;
}

export interface DeadLetterFailure {
  runId: string;
  sourceId: string;
  pluginId: string;
  pluginVersion: string;
  httpStatus: number | null;
  reason: string;
  outcome: object | null;
  attempts: number;
}

export interface AdminAction {
  action: string;
  actor: string;
  target?: string;
  details?: object;
}

/** Dead letters of write-back, and the record of what operators did with them; every change chained. */
@Injectable()
export class DeadLetterRepository {
  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
    private readonly adminActions: AdminActionRepository,
  ) {}

  /** Opens (or re-opens, after a failed replay) the run's dead letter. */
  async open(failure: DeadLetterFailure): Promise<void> {
    await this.changed(
      'opened',
      `INSERT INTO dead_letter (run_id, source_id, plugin_id, plugin_version, http_status, reason, outcome, attempts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (run_id) DO UPDATE SET status = 'open', http_status = EXCLUDED.http_status,
         reason = EXCLUDED.reason, outcome = EXCLUDED.outcome,
         attempts = dead_letter.attempts + EXCLUDED.attempts, failed_at = now(), resolved_at = NULL
       RETURNING ${returningChained('dead_letter')}`,
      [
        failure.runId,
        failure.sourceId,
        failure.pluginId,
        failure.pluginVersion,
        failure.httpStatus,
        failure.reason,
        failure.outcome === null ? null : JSON.stringify(failure.outcome),
        failure.attempts,
      ],
    );
  }

  /** The run's results reached the EHR: its dead letter, if any, is resolved. */
  async resolve(runId: string): Promise<void> {
    await this.changed(
      'resolved',
      `UPDATE dead_letter SET status = 'resolved', resolved_at = now() WHERE run_id = $1 AND status <> 'resolved'
       RETURNING ${returningChained('dead_letter')}`,
      [runId],
    );
  }

  get(id: string): Promise<DeadLetterEntity | null> {
    return this.db.getRepository(DeadLetterEntity).findOneBy({ id });
  }

  list(filter: DeadLetterFilter = {}): Promise<DeadLetterEntity[]> {
    const query = this.db
      .getRepository(DeadLetterEntity)
      .createQueryBuilder('d')
      .orderBy('d.failed_at', 'ASC')
      .take(filter.limit ?? 100);
    if (filter.status?.length) query.andWhere('d.status IN (:...status)', { status: filter.status });
    if (filter.sourceId) query.andWhere('d.source_id = :sourceId', { sourceId: filter.sourceId });
    if (filter.pluginId) query.andWhere('d.plugin_id = :pluginId', { pluginId: filter.pluginId });
    if (filter.httpStatus !== undefined) {
      query.andWhere('d.http_status = :httpStatus', { httpStatus: filter.httpStatus });
    }
    if (filter.since) query.andWhere('d.failed_at >= :since', { since: filter.since });
    if (filter.before) query.andWhere('d.failed_at < :before', { before: filter.before });
    return query.getMany();
  }

  /**
   * Marks the dead letter as being replayed and returns its replay number, or undefined when it is
   * already resolved (a replay then has nothing to do).
   */
  async startReplay(id: string): Promise<number | undefined> {
    const rows = await this.changed<{ replay_count: number }>(
      'replaying',
      `UPDATE dead_letter SET status = 'replaying', replay_count = replay_count + 1, replayed_at = now()
       WHERE id = $1 AND status <> 'resolved' RETURNING replay_count, ${returningChained('dead_letter')}`,
      [id],
    );
    return rows[0]?.replay_count;
  }

  async recordAction(action: AdminAction): Promise<void> {
    await this.adminActions.record({
      action: action.action,
      actor: action.actor,
      target: action.target ?? null,
      detail: action.details ?? {},
    });
  }

  /** One statement on dead_letter whose rows are chained in the same transaction. */
  private changed<T extends object = object>(
    action: string,
    sql: string,
    params: unknown[],
  ): Promise<Array<T & ChainedRow>> {
    return this.chain.write(async (tx) => {
      const result = (await tx.query(sql, params)) as unknown;
      // INSERT … RETURNING answers rows; UPDATE … RETURNING answers [rows, count].
      const rows = (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as Array<
        T & ChainedRow
      >;
      return { result: rows, records: chained('dead_letter', action, rows) };
    });
  }
}

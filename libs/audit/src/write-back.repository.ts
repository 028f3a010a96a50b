import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditChain, chained, ChainedRow, returningChained } from './chain';
import { WriteBackEntity } from './entities';

export type WriteBackAttempt = Omit<WriteBackEntity, 'id' | 'createdAt'>;

@Injectable()
export class WriteBackRepository {
  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
  ) {}

  /** Records one attempt and chains it; resolves with the attempt's id. */
  record(attempt: WriteBackAttempt): Promise<string> {
    return this.chain.write(async (tx) => {
      const saved = await tx
        .createQueryBuilder()
        .insert()
        .into(WriteBackEntity)
        .values(attempt)
        .returning(returningChained('write_back'))
        .updateEntity(false)
        .execute();
      const rows = saved.raw as ChainedRow[];
      return { result: rows[0].id, records: chained('write_back', attempt.outcome, rows) };
    });
  }

  findForRun(runId: string): Promise<WriteBackEntity[]> {
    return this.db.getRepository(WriteBackEntity).find({ where: { runId }, order: { attempt: 'ASC' } });
  }
}

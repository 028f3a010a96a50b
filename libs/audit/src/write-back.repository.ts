import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { WriteBackEntity } from './entities';

export type WriteBackAttempt = Omit<WriteBackEntity, 'id' | 'createdAt'>;

@Injectable()
export class WriteBackRepository {
  constructor(private readonly db: DataSource) {}

  async record(attempt: WriteBackAttempt): Promise<void> {
    await this.db.getRepository(WriteBackEntity).insert(attempt);
  }

  findForRun(runId: string): Promise<WriteBackEntity[]> {
    return this.db.getRepository(WriteBackEntity).find({ where: { runId }, order: { attempt: 'ASC' } });
  }
}

import { Injectable } from '@nestjs/common';
import { AuditChain, chained, ChainedRow, returningChained } from './audit-chain';
import { AdminActionEntity } from './entities';

export type NewAdminAction = Pick<AdminActionEntity, 'actor' | 'action'> &
  Partial<Pick<AdminActionEntity, 'target' | 'detail' | 'httpStatus' | 'remoteAddress'>>;

/** Who did (or looked at) what through the admin API, and when: chained like every audit record. */
@Injectable()
export class AdminActionRepository {
  constructor(private readonly chain: AuditChain) {}

  record(action: NewAdminAction): Promise<string> {
    return this.chain.write(async (tx) => {
      const saved = await tx
        .createQueryBuilder()
        .insert()
        .into(AdminActionEntity)
        .values({ target: null, detail: {}, httpStatus: null, remoteAddress: null, ...action })
        .returning(returningChained('admin_action'))
        .updateEntity(false)
        .execute();
      const rows = saved.raw as ChainedRow[];
      return { result: rows[0].id, records: chained('admin_action', 'recorded', rows) };
    });
  }
}

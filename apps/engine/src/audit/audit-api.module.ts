import { Module } from '@nestjs/common';
import { AdminActionInterceptor } from './admin-action.interceptor';
import { AuditController } from './audit.controller';
import { AuditRetentionScheduler } from './audit-retention.scheduler';

/** The audit trail's admin API and its retention job (the audit library itself is global). */
@Module({
  controllers: [AuditController],
  providers: [AdminActionInterceptor, AuditRetentionScheduler],
})
export class AuditApiModule {}

import { Module } from '@nestjs/common';
import { JobsModule } from '@aegle/jobs';
import { AdminActionInterceptor } from '../admin/admin-action.interceptor';
import { AuditController } from './audit.controller';
import { AuditRetentionScheduler } from './audit-retention.scheduler';
import { FailedJobController } from './failed-job.controller';

/** The audit trail's admin API and its retention job (the store, libs/store, is global). */
@Module({
  imports: [JobsModule],
  controllers: [AuditController, FailedJobController],
  providers: [AdminActionInterceptor, AuditRetentionScheduler],
})
export class AuditApiModule {}

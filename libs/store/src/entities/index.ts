import { AdminActionEntity } from './admin-action.entity';
import { AuditCheckpointEntity, AuditLogEntity } from './audit-log.entity';
import { DeadLetterEntity } from './dead-letter.entity';
import { EventEntity } from './event.entity';
import { FailedJobEntity } from './failed-job.entity';
import { NotificationEntity } from './notification.entity';
import { PluginRunEntity } from './plugin-run.entity';
import { WriteBackEntity } from './write-back.entity';
import { CatchUpEntity, SubscriptionStateEntity } from './subscription-state.entity';

export {
  AdminActionEntity,
  AuditCheckpointEntity,
  AuditLogEntity,
  DeadLetterEntity,
  EventEntity,
  FailedJobEntity,
  NotificationEntity,
  PluginRunEntity,
  WriteBackEntity,
  SubscriptionStateEntity,
  CatchUpEntity,
};
export type { CatchUpStatus } from './subscription-state.entity';
export type { EventStatus } from './event.entity';
export type { RunMode, RunOutcome } from './plugin-run.entity';
export type { WriteBackOutcome } from './write-back.entity';
export type { DeadLetterStatus } from './dead-letter.entity';

export const AUDIT_ENTITIES = [
  NotificationEntity,
  EventEntity,
  PluginRunEntity,
  WriteBackEntity,
  DeadLetterEntity,
  FailedJobEntity,
  AdminActionEntity,
  AuditLogEntity,
  AuditCheckpointEntity,
  SubscriptionStateEntity,
  CatchUpEntity,
];

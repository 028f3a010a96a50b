import { AdminActionEntity } from './admin-action.entity';
import { AuditCheckpointEntity, AuditLogEntity } from './audit-log.entity';
import { DeadLetterEntity } from './dead-letter.entity';
import { EventEntity } from './event.entity';
import { NotificationEntity } from './notification.entity';
import { PluginRunEntity } from './plugin-run.entity';
import { WriteBackEntity } from './write-back.entity';

export {
  AdminActionEntity,
  AuditCheckpointEntity,
  AuditLogEntity,
  DeadLetterEntity,
  EventEntity,
  NotificationEntity,
  PluginRunEntity,
  WriteBackEntity,
};
export type { EventStatus } from './event.entity';
export type { RunOutcome } from './plugin-run.entity';
export type { WriteBackOutcome } from './write-back.entity';

export const AUDIT_ENTITIES = [
  NotificationEntity,
  EventEntity,
  PluginRunEntity,
  WriteBackEntity,
  DeadLetterEntity,
  AdminActionEntity,
  AuditLogEntity,
  AuditCheckpointEntity,
];

import { AdminActionEntity } from './admin-action.entity';
import { DeadLetterEntity } from './dead-letter.entity';
import { EventEntity } from './event.entity';
import { NotificationEntity } from './notification.entity';
import { PluginRunEntity } from './plugin-run.entity';
import { WriteBackEntity } from './write-back.entity';

export { EventEntity, NotificationEntity, PluginRunEntity, WriteBackEntity };
export { AdminActionEntity, DeadLetterEntity };
export type { EventStatus } from './event.entity';
export type { RunOutcome } from './plugin-run.entity';
export type { WriteBackOutcome } from './write-back.entity';
export type { DeadLetterStatus } from './dead-letter.entity';

export const AUDIT_ENTITIES = [
  NotificationEntity,
  EventEntity,
  PluginRunEntity,
  WriteBackEntity,
  DeadLetterEntity,
  AdminActionEntity,
];

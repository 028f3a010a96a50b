import { EventEntity } from './event.entity';
import { NotificationEntity } from './notification.entity';
import { PluginRunEntity } from './plugin-run.entity';
import { WriteBackEntity } from './write-back.entity';

export { EventEntity, NotificationEntity, PluginRunEntity, WriteBackEntity };
export type { EventStatus } from './event.entity';
export type { RunMode, RunOutcome } from './plugin-run.entity';
export type { WriteBackOutcome } from './write-back.entity';

export const AUDIT_ENTITIES = [NotificationEntity, EventEntity, PluginRunEntity, WriteBackEntity];

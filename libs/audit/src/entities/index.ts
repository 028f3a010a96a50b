import { EventEntity } from './event.entity';
import { NotificationEntity } from './notification.entity';
import { PluginRunEntity } from './plugin-run.entity';
import { WriteBackEntity } from './write-back.entity';
import { CatchUpEntity, SubscriptionStateEntity } from './subscription-state.entity';

export {
  EventEntity,
  NotificationEntity,
  PluginRunEntity,
  WriteBackEntity,
  SubscriptionStateEntity,
  CatchUpEntity,
};
export type { CatchUpStatus } from './subscription-state.entity';
export type { EventStatus } from './event.entity';
export type { RunOutcome } from './plugin-run.entity';
export type { WriteBackOutcome } from './write-back.entity';

export const AUDIT_ENTITIES = [
  NotificationEntity,
  EventEntity,
  PluginRunEntity,
  WriteBackEntity,
  SubscriptionStateEntity,
  CatchUpEntity,
];

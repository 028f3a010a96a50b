import { InitialSchema1764340000000 } from './1764340000000-initial-schema';
import { IntakeSubscriptions1764400000000 } from './1764400000000-intake-subscriptions';

/** In order; TypeORM runs the ones not yet applied at boot. */
export const AUDIT_MIGRATIONS = [InitialSchema1764340000000, IntakeSubscriptions1764400000000];

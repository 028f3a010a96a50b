import { InitialSchema1764340000000 } from './1764340000000-initial-schema';
import { DeadLetters1764400000000 } from './1764400000000-dead-letters';
import { PluginRunMode1764400000001 } from './1764400000001-plugin-run-mode';
import { IntakeSubscriptions1764400000002 } from './1764400000002-intake-subscriptions';
import { AuditChain1764500000000 } from './1764500000000-audit-chain';
import { EventClaims1764600000000 } from './1764600000000-event-claims';
import { FailedJobLookup1764700000000 } from './1764700000000-failed-job-lookup';
import { ClaimsInOneStatement1764800000000 } from './1764800000000-claims-in-one-statement';

/** In order; TypeORM runs the ones not yet applied at boot. */
export const AUDIT_MIGRATIONS = [
  InitialSchema1764340000000,
  DeadLetters1764400000000,
  PluginRunMode1764400000001,
  IntakeSubscriptions1764400000002,
  AuditChain1764500000000,
  EventClaims1764600000000,
  FailedJobLookup1764700000000,
  ClaimsInOneStatement1764800000000,
];

export { migrateExclusively } from './migrate-exclusively';

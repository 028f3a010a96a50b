import { InitialSchema1764340000000 } from './1764340000000-initial-schema';
import { AuditChain1764500000000 } from './1764500000000-audit-chain';

/** In order; TypeORM runs the ones not yet applied at boot. */
export const AUDIT_MIGRATIONS = [InitialSchema1764340000000, AuditChain1764500000000];

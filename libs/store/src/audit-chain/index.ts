export * from './audit-chain';
export * from './audit-retention';
export * from './audit-verifier';
export * from './chained-tables';
export * from './entry-hash';
export * from './returning';
export * from './record-trail';

export * from './operation-outcome';
export * from './references';
export * from './notification';
export * from './ehr-client';
export * from './ehr-clients';
export * from './operation-outcome.filter';
export * from './outbound-auth';
export * from './audit-event';

export * from './queues';
export * from './workflow.module';
export * from './intake.service';
export * from './event-enqueuer';
export * from './plugin-registry';
export * from './redis-connection';
export * from './run-outputs';
export * from './dead-letters.service';

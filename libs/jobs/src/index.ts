export * from './failed-job-replay';
export * from './job-queues';
export * from './jobs.module';
export * from './queues';
export * from './redis-connection';
export * from './retry-policy';
export * from './stalled-jobs';
export * from './traced';

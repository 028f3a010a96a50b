export * from './catch-up.service';
export * from './event-enqueuer';
export * from './intake.module';
export * from './intake.service';
export * from './notification-rows';
export * from './notification-writer';

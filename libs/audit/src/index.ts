export * from './entities';
export * from './event.repository';
export * from './plugin-run.repository';
export * from './write-back.repository';
export * from './intake.repository';
export * from './audit.module';

export * from './dead-letters.service';
export * from './earlier-results';
export * from './run-outputs';
export * from './write-back.module';
export * from './writeback.processor';

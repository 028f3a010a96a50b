export * from './dead-letters.service';
export * from './earlier-results';
export * from './result-writer';
export * from './run-outputs';
export * from './write-back.module';
export * from './writeback.processor';

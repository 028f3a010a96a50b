export * from './dead-letters.service';
export * from './earlier-results';
export * from './result-writer';
export * from './write-back.module';
export * from './writeback.processor';

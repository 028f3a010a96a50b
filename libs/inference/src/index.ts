export * from './inference-runtime';
export * from './inference.module';
export * from './micro-batcher';

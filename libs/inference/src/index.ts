export * from './errors';
export * from './execution-providers';
export * from './inference-runtime';
export * from './inference.module';
export * from './micro-batcher';
export { RunMetrics } from './run-metrics';
export { TensorCodec } from './tensor-codec';
export type { ElementType, RowInputs, RowOutputs, TensorMetadata } from './tensor-codec';
export * from './node-placement';

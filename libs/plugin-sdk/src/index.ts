// The SDK's runtime entry: what the engine and plugins load. It must need only production
// dependencies; the ONNX graph builder (onnx-proto, a dev dependency) is `@aegle/plugin-sdk/onnx`,
// for model build scripts only.
export * from './manifest';
export * from './patient-data';
export * from './patient-record';
export * from './inputs';
export * from './genotype';
export * from './exclusions';
export * from './image-input';
export * from './findings';
export * from './coding-match';
export * from './units';
export * from './scope';
export * from './plugin-code';
export * from './evaluate';
export * from './loader';
export * from './resource-builders';
export * from './results';
export * from './harness';

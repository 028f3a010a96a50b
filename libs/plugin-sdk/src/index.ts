export * from './manifest';
export * from './patient-data';
export * from './inputs';
export * from './findings';
export * from './coding-match';
export * from './units';
export * from './onnx/graph-builder';

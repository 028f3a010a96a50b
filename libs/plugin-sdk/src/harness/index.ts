export * from './bundle-patient-data';
export * from './run-plugin';
export * from './golden';
export { openModel } from './onnx-model';
export type { OpenModel } from './onnx-model';

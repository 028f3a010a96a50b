export * from './metrics';
export * from './trace-context';
export * from './cluster-metrics';

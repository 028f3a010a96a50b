export * from './catalogue.module';
export * from './plugin-registry';
export * from './rollout';

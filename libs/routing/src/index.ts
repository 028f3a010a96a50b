export * from './router.processor';
export * from './routing.module';

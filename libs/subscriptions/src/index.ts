export * from './subscription-manager';
export * from './subscriptions.module';

export * from './model';
export * from './normalise';
export * from './deduplication';

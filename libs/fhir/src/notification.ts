/** Notification parsing lives in ./notifications, one reader per dialect behind one normaliser. */
export * from './notifications';

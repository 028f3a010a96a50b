export * from './ehr-images';
export * from './ehr-patient-data';
export * from './model-host';
export * from './plugin-slots';
export * from './run-starter';
export * from './run.processor';
export * from './runs.module';

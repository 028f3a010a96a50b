import { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { json, raw } from 'express';
import { Logger } from 'nestjs-pino';
import { AegleConfig } from '@aegle/config';
import { setupOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import { keepBodyError } from './intake/body-error';

/**
 * Builds the Nest application. Intake bodies are read raw (HMAC is over the exact bytes, and JSON
 * errors must become OperationOutcomes), with the configured size limit.
 */
export async function createApp(
  config: AegleConfig,
  /** Extra modules mounted beside Aegle's own (benchmarks mount a do-nothing endpoint this way). */
  extraModules: Array<Type | DynamicModule> = [],
): Promise<INestApplication> {
  const root = AppModule.forRoot(config);
  root.imports = [...(root.imports ?? []), ...extraModules];
  const app = await NestFactory.create(root, { bodyParser: false, bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.use('/fhir', raw({ type: () => true, limit: config.intake.maxBodyBytes }), keepBodyError);
  app.use('/api', json({ limit: '1mb' }));
  app.enableShutdownHooks();
  setupOpenApi(app);
  return app;
}

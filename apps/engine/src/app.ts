import { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { json, raw } from 'express';
import { Logger } from 'nestjs-pino';
import { AegleConfig } from '@aegle/config';
import { setupOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import { keepBodyError } from './intake/body-error';
import { DrainService } from './lifecycle/drain.service';
import { intakeGate } from './lifecycle/intake-gate';
import { traceMiddleware } from './lifecycle/trace-middleware';

/**
 * Builds the Nest application (signals are handled by the caller: see installGracefulShutdown). Intake bodies are read raw (HMAC is over the exact bytes, and JSON
 * errors must become OperationOutcomes), with the configured size limit.
 */
export async function createApp(
  config: AegleConfig,
  /** Extra modules mounted beside Aegle's own (benchmarks mount a do-nothing endpoint this way). */
  extraModules: Array<Type | DynamicModule> = [],
): Promise<INestApplication> {
  const root = AppModule.forRoot(config);
  root.imports = [...(root.imports ?? []), ...extraModules];
  // forceCloseConnections: close() must not wait on idle keep-alive sockets once intake is drained.
  const app = await NestFactory.create(root, {
    bodyParser: false,
    bufferLogs: true,
    forceCloseConnections: true,
  });
  app.useLogger(app.get(Logger));
  app.use(traceMiddleware);
  app.use('/fhir', intakeGate(app.get(DrainService)));
  app.use('/fhir', raw({ type: () => true, limit: config.intake.maxBodyBytes }), keepBodyError);
  app.use('/api', json({ limit: '1mb' }));
  setupOpenApi(app);
  return app;
}

import { DynamicModule, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AegleConfig } from '@aegle/config';
import { setupOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import { registerBodyParsers } from './http/request-bodies';
import { DrainService } from './lifecycle/drain.service';
import { intakeGate } from './lifecycle/intake-gate';
import { traceMiddleware } from './lifecycle/trace-middleware';

/**
 * Builds the Nest application on Fastify (signals are handled by the caller: see
 * installGracefulShutdown). Fastify rather than Express because the intake's rate is bounded by
 * the HTTP stack's cost per request (`npm run bench:intake`). Intake bodies are read raw (HMAC is
 * over the exact bytes, and JSON errors must become OperationOutcomes), with the configured size
 * limit.
 */
export async function createApp(
  config: AegleConfig,
  /** Extra modules mounted beside Aegle's own (benchmarks mount a do-nothing endpoint this way). */
  extraModules: Array<Type | DynamicModule> = [],
): Promise<NestFastifyApplication> {
  const root = AppModule.forRoot(config);
  root.imports = [...(root.imports ?? []), ...extraModules];
  const adapter = new FastifyAdapter({
    // Once intake is drained, close() must not wait on idle keep-alive sockets.
    forceCloseConnections: 'idle',
  });
  registerBodyParsers(adapter.getInstance(), config.intake.maxBodyBytes);
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.use(traceMiddleware);
  app.use('/fhir', intakeGate(app.get(DrainService)));
  setupOpenApi(app);
  return app;
}

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
import { traceHook } from './lifecycle/trace-hook';

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
  const fastify = adapter.getInstance();
  registerBodyParsers(fastify, config.intake.maxBodyBytes);
  // Fastify hooks, not `app.use`: Express-style middleware runs through @fastify/middie, whose
  // per-request work was a visible share of the intake's CPU. The trace comes first, before the
  // middleware Nest registers (request logging), so that runs in it.
  fastify.addHook('onRequest', traceHook);
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  fastify.addHook('onRequest', intakeGate(app.get(DrainService)));
  setupOpenApi(app);
  return app;
}

import type { Params } from 'nestjs-pino';
import type { IncomingMessage } from 'node:http';
import { AegleConfig } from '@aegle/config';
import { currentTraceparent, traceIdOf } from '@aegle/telemetry';

/**
 * Intake URLs can carry a resource id (`PUT …/Patient/123`): logs keep the route's shape only.
 * Bodies and headers are never logged.
 */
export function redactUrl(url: string | undefined): string {
  const path = (url ?? '').split('?')[0];
  return path.replace(/^(\/fhir\/notify\/[^/]+\/[^/]+)\/[^/]+$/, '$1/:id');
}

/** Health probes: asked every few seconds by orchestrators, never logged. */
const isProbe = (req: IncomingMessage) => req.url?.startsWith('/health') ?? false;

/** Levels at which pino-http's lines (logged at info) are written. */
const REQUEST_LOG_LEVELS = new Set(['info', 'debug', 'trace']);

export function loggerParams(config: AegleConfig): Params {
  return {
    // pino-http writes each request's line at info. Above that level it would write nothing, yet
    // still cost every request a child logger, listeners and the middleware's turn: it is left
    // out, and lines logged during a request still carry its trace id (the mixin below).
    ...(REQUEST_LOG_LEVELS.has(config.logLevel) ? {} : { forRoutes: [] }),
    pinoHttp: {
      level: config.logLevel,
      // Every line made inside a request or a job names its trace: one id follows a notification
      // through intake, the queues and every process.
      mixin: () => {
        const traceId = traceIdOf(currentTraceparent());
        return traceId ? { traceId } : {};
      },
      base: { role: config.role, pid: process.pid },
      autoLogging: { ignore: isProbe },
      // pino-http logs every 5xx, ignored or not, with a made-up Error and its stack: a failing
      // readiness probe (every few seconds) would flood the log. Its body says why; logs stay quiet.
      customLogLevel: (req: IncomingMessage) => (isProbe(req) ? 'silent' : 'info'),
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      genReqId: () => traceIdOf(currentTraceparent()) ?? crypto.randomUUID(),
    },
  };
}

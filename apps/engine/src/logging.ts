import type { Params } from 'nestjs-pino';
import type { IncomingMessage } from 'node:http';
import { AegleConfig } from '@aegle/config';

/**
 * Intake URLs can carry a resource id (`PUT …/Patient/123`): logs keep the route's shape only.
 * Bodies and headers are never logged.
 */
export function redactUrl(url: string | undefined): string {
  const path = (url ?? '').split('?')[0];
  return path.replace(/^(\/fhir\/notify\/[^/]+\/[^/]+)\/[^/]+$/, '$1/:id');
}

export function loggerParams(config: AegleConfig): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      autoLogging: { ignore: (req: IncomingMessage) => req.url === '/health' },
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      genReqId: (req: IncomingMessage) => {
        const traceparent = req.headers['traceparent'];
        const traceId = typeof traceparent === 'string' ? traceparent.split('-')[1] : undefined;
        return traceId ?? crypto.randomUUID();
      },
    },
  };
}

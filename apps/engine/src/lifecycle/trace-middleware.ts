import type { IncomingMessage, ServerResponse } from 'node:http';
import { childTraceparent, withTrace } from '@aegle/telemetry';

/**
 * Every request runs in a trace: the caller's `traceparent` when it sent a valid one (we are a
 * new span of it), otherwise a new trace. Jobs, EHR calls and log lines inherit it.
 */
export function traceMiddleware(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const incoming = req.headers.traceparent;
  const traceparent = childTraceparent(typeof incoming === 'string' ? incoming : undefined);
  res.setHeader('traceparent', traceparent);
  withTrace(traceparent, next);
}

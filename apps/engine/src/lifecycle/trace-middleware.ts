import type { NextFunction, Request, Response } from 'express';
import { childTraceparent, withTrace } from '@aegle/telemetry';

/**
 * Every request runs in a trace: the caller's `traceparent` when it sent a valid one (we are a
 * new span of it), otherwise a new trace. Jobs, EHR calls and log lines inherit it.
 */
export function traceMiddleware(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.headers.traceparent;
  const traceparent = childTraceparent(typeof incoming === 'string' ? incoming : undefined);
  res.setHeader('traceparent', traceparent);
  withTrace(traceparent, next);
}

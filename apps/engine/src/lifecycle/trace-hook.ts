import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { childTraceparent, withTrace } from '@aegle/telemetry';

/**
 * Every request runs in a trace: the caller's `traceparent` when it sent a valid one (we are a
 * new span of it), otherwise a new trace. Jobs, EHR calls and log lines inherit it. A Fastify
 * hook rather than Express-style middleware: @fastify/middie's per-request work was a visible
 * share of the intake's CPU. It must be added before Nest's own middleware (request logging), so
 * that runs in the trace.
 */
export function traceHook(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const incoming = request.headers.traceparent;
  const traceparent = childTraceparent(typeof incoming === 'string' ? incoming : undefined);
  reply.header('traceparent', traceparent);
  withTrace(traceparent, done);
}

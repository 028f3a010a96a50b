import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { operationOutcome } from '@aegle/fhir';
import { DrainService } from './drain.service';

/** Seconds an EHR is asked to wait before retrying a notification refused while draining. */
const RETRY_AFTER_S = 5;

const DRAINING = JSON.stringify(
  operationOutcome(
    'error',
    'transient',
    'Aegle is shutting down and accepts no notifications here; retry shortly',
  ),
);

/**
 * In front of the intake (every route under `/fhir/`, as routed, so no spelling of the URL slips
 * past): while draining, notifications get 503 with an OperationOutcome and Retry-After (nothing
 * is stored, so the EHR's retry loses nothing); the rest are counted until their response is
 * done (or its connection gone: 'close' comes either way), so shutdown waits for them.
 */
export function intakeGate(drain: DrainService) {
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!request.routeOptions.url?.startsWith('/fhir/')) return done();
    if (drain.isDraining) {
      void reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_S))
        .type('application/fhir+json')
        .send(DRAINING);
      return;
    }
    reply.raw.once('close', drain.track());
    done();
  };
}

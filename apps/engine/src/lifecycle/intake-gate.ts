import type { IncomingMessage, ServerResponse } from 'node:http';
import { operationOutcome } from '@aegle/fhir';
import { DrainService } from './drain.service';

/** Seconds an EHR is asked to wait before retrying a notification refused while draining. */
const RETRY_AFTER_S = 5;

const DRAINING = operationOutcome(
  'error',
  'transient',
  'Aegle is shutting down and accepts no notifications here; retry shortly',
);

/**
 * In front of the intake: while draining, notifications get 503 with an OperationOutcome and
 * Retry-After (nothing is stored, so the EHR's retry loses nothing); the rest are counted until
 * their response is sent, so shutdown waits for them.
 */
export function intakeGate(drain: DrainService) {
  return (_req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (drain.isDraining) {
      res
        .writeHead(503, { 'retry-after': String(RETRY_AFTER_S), 'content-type': 'application/fhir+json' })
        .end(JSON.stringify(DRAINING));
      return;
    }
    const done = drain.track();
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}

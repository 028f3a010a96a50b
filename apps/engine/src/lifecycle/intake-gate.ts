import type { NextFunction, Request, Response } from 'express';
import { operationOutcome } from '@aegle/fhir';
import { DrainService } from './drain.service';

/** Seconds an EHR is asked to wait before retrying a notification refused while draining. */
const RETRY_AFTER_S = 5;

/**
 * In front of the intake: while draining, notifications get 503 with an OperationOutcome and
 * Retry-After (nothing is stored, so the EHR's retry loses nothing); the rest are counted until
 * their response is sent, so shutdown waits for them.
 */
export function intakeGate(drain: DrainService) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (drain.isDraining) {
      res
        .status(503)
        .set('Retry-After', String(RETRY_AFTER_S))
        .type('application/fhir+json')
        .send(
          JSON.stringify(
            operationOutcome(
              'error',
              'transient',
              'Aegle is shutting down and accepts no notifications here; retry shortly',
            ),
          ),
        );
      return;
    }
    const done = drain.track();
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}

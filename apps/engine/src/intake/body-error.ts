import type { NextFunction, Request, Response } from 'express';
import { BODY_ERROR } from './intake.controller';

/**
 * Express error middleware after the raw body parser: a body over the limit (or unreadable) is not
 * answered here with an HTML page but handed on to the intake route, which refuses it as an
 * OperationOutcome (413, 415 or 400) and records the refusal like any other.
 */
export function keepBodyError(
  error: unknown,
  request: Request,
  _response: Response,
  next: NextFunction,
): void {
  const { status, statusCode, message } = (error ?? {}) as {
    status?: number;
    statusCode?: number;
    message?: string;
  };
  const code = status ?? statusCode;
  if (typeof code !== 'number' || code < 400 || code >= 500) return next(error);
  (request as Request & { [BODY_ERROR]?: unknown })[BODY_ERROR] = { status: code, message: String(message) };
  request.body = Buffer.alloc(0);
  next();
}

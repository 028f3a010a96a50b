import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { operationOutcome, OperationOutcomeError } from './operation-outcome';

/** Answers every error on a FHIR-facing route with an OperationOutcome, never an HTML or Nest error body. */
@Catch()
export class OperationOutcomeFilter implements ExceptionFilter {
  private readonly logger = new Logger(OperationOutcomeFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    // Express's Response and Fastify's Reply both answer to status/type/send.
    const response = host.switchToHttp().getResponse<{
      status(code: number): { type(mediaType: string): { send(body: string): unknown } };
    }>();
    const { status, outcome } = this.toOutcome(error);
    response.status(status).type('application/fhir+json').send(JSON.stringify(outcome));
  }

  private toOutcome(error: unknown): { status: number; outcome: fhir4.OperationOutcome } {
    if (error instanceof OperationOutcomeError) return { status: error.status, outcome: error.outcome };
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const code =
        status === 404 ? 'not-found' : status === 413 ? 'too-long' : status < 500 ? 'invalid' : 'exception';
      return { status, outcome: operationOutcome('error', code, error.message) };
    }
    this.logger.error(
      {
        err:
          error instanceof Error
            ? { name: error.name, message: error.message, stack: error.stack }
            : String(error),
      },
      'unhandled error',
    );
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      outcome: operationOutcome(
        'error',
        'exception',
        'internal error; the notification was not accepted, please retry',
      ),
    };
  }
}

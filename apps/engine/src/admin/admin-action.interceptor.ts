import {
  CallHandler,
  ExecutionContext,
  HttpException,
  Injectable,
  Logger,
  NestInterceptor,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catchError, concatMap, Observable } from 'rxjs';
import { AdminActionRepository } from '@aegle/store';

const NOT_RECORDED = 'aegle:admin-action-not-recorded';

/**
 * For reads that name no patient (aggregates, the console's live feed, plugin metadata): the
 * console polls them every few seconds, and recording each poll would bury the accesses that
 * matter under thousands of chain entries a day. Anything that can show one patient's data stays recorded.
 */
export const NamesNoPatient = () => SetMetadata(NOT_RECORDED, true);

/**
 * Records every admin API call (who, what, when, and how it ended) in the chained audit trail:
 * reading a patient's runs is an access a hospital must be able to account for. The record goes to
 * the database, never to the logs, because its query may name a patient.
 */
@Injectable()
export class AdminActionInterceptor implements NestInterceptor {
  private readonly logger = new Logger(AdminActionInterceptor.name);

  constructor(
    private readonly actions: AdminActionRepository,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.reflector.get<boolean>(NOT_RECORDED, context.getHandler())) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const target = request.url.split('?')[0];
    const route = request.routeOptions.url ?? target;
    const record = (status: number) =>
      this.actions
        .record({
          // Who, as the caller says; the token only proves the caller may act.
          actor: String(request.headers['x-aegle-actor'] || 'admin-token'),
          action: `${request.method} ${route}`,
          target,
          detail: { query: request.query, userAgent: request.headers['user-agent'] ?? null },
          httpStatus: status,
          remoteAddress: request.ip ?? null,
        })
        .then(
          () => undefined,
          (error: unknown) =>
            this.logger.error({ reason: (error as Error).message }, 'could not record an admin action'),
        );
    // Recorded before the answer goes out, so an action is never answered yet unrecorded.
    return next.handle().pipe(
      concatMap(async (value: unknown) => {
        await record(http.getResponse<FastifyReply>().statusCode);
        return value;
      }),
      catchError(async (error: unknown) => {
        await record(error instanceof HttpException ? error.getStatus() : 500);
        throw error;
      }),
    );
  }
}

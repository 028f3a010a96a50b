import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { ApiBearerAuth, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { IncomingHttpHeaders } from 'node:http';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { AdminActionInterceptor } from './admin-action.interceptor';
import { bearerOf, tokenMatches } from '../intake/sender-auth';

/** The admin API and console answer only to `AEGLE_ADMIN_TOKEN`; with none configured they are closed. */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(@Inject(AEGLE_CONFIG) private readonly config: AegleConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>();
    const expected = this.config.adminToken;
    if (!expected) throw new UnauthorizedException('the admin API is disabled: set AEGLE_ADMIN_TOKEN');
    if (!tokenMatches(bearerOf(request.headers.authorization), expected)) {
      throw new UnauthorizedException('missing or wrong admin bearer token');
    }
    return true;
  }
}

/**
 * Marks a controller as part of the admin API: bearer-protected, described in OpenAPI, and each
 * call recorded as an admin action in the audit trail.
 */
export function AdminApi(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    UseGuards(AdminTokenGuard),
    UseInterceptors(AdminActionInterceptor),
    ApiBearerAuth('admin'),
    ApiUnauthorizedResponse({ description: 'missing or wrong admin token' }),
  );
}

import { Controller, HttpCode, Inject, Param, Post, Put, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import {
  isResourceId,
  isResourceType,
  OperationOutcomeError,
  OperationOutcomeFilter,
  operationOutcome,
} from '@aegle/fhir';
import { notificationsTotal } from '@aegle/telemetry';
import { IntakeService } from '@aegle/workflow';
import { bearerOf, signatureMatches, tokenMatches } from './sender-auth';

const JSON_TYPES = /^application\/(fhir\+json|json)\s*(;|$)/i;
/** Headers worth keeping with the notification record (never Authorization or cookies). */
const RECORDED_HEADERS = ['content-type', 'user-agent', 'traceparent', 'x-request-id'];

/**
 * The endpoint EHRs send subscription notifications to. It answers 2xx only once the events are
 * durably stored; every refusal is an OperationOutcome with the status that names the mistake.
 */
@Controller('fhir/notify')
@UseFilters(OperationOutcomeFilter)
export class IntakeController {
  private readonly sources: Map<string, SourceConfig>;

  constructor(
    @Inject(AEGLE_CONFIG) config: AegleConfig,
    private readonly intake: IntakeService,
  ) {
    this.sources = new Map(config.sources.map((s) => [s.id, s]));
  }

  @Post(':sourceId')
  @HttpCode(200)
  async notify(
    @Param('sourceId') sourceId: string,
    @Req() request: Request,
  ): Promise<fhir4.OperationOutcome> {
    return this.receive(sourceId, 'POST', request);
  }

  @Put(':sourceId/:resourceType/:id')
  @HttpCode(200)
  async notifyResource(
    @Param('sourceId') sourceId: string,
    @Param('resourceType') resourceType: string,
    @Param('id') id: string,
    @Req() request: Request,
  ): Promise<fhir4.OperationOutcome> {
    if (!isResourceType(resourceType) || !isResourceId(id)) {
      throw OperationOutcomeError.badRequest('the URL must end in /{resourceType}/{id}');
    }
    return this.receive(sourceId, 'PUT', request, { resourceType, id });
  }

  /** Counts every notification by source and outcome; unknown source ids share one label value. */
  private async receive(
    sourceId: string,
    method: 'POST' | 'PUT',
    request: Request,
    pathKey?: { resourceType: string; id: string },
  ): Promise<fhir4.OperationOutcome> {
    const source = this.sources.has(sourceId) ? sourceId : 'unknown';
    try {
      const { outcome, duplicate } = await this.accept(sourceId, method, request, pathKey);
      notificationsTotal.inc({ source, outcome: duplicate ? 'duplicate' : 'accepted' });
      return outcome;
    } catch (error) {
      const status = error instanceof OperationOutcomeError ? error.status : 500;
      notificationsTotal.inc({ source, outcome: `rejected_${status}` });
      throw error;
    }
  }

  private async accept(
    sourceId: string,
    method: 'POST' | 'PUT',
    request: Request,
    pathKey?: { resourceType: string; id: string },
  ): Promise<{ outcome: fhir4.OperationOutcome; duplicate: boolean }> {
    const source = this.sources.get(sourceId);
    if (!source) throw OperationOutcomeError.notFound(`no source named "${sourceId}" is configured`);
    this.authenticate(source, request);

    const contentType = request.headers['content-type'];
    if (!contentType || !JSON_TYPES.test(contentType)) {
      throw OperationOutcomeError.unsupportedMediaType('send application/fhir+json or application/json');
    }
    const bodyBytes = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let body: unknown;
    try {
      body = JSON.parse(bodyBytes.toString('utf8'));
    } catch {
      throw OperationOutcomeError.badRequest('the body is not valid JSON');
    }

    const result = await this.intake.accept({
      sourceId,
      method,
      pathKey,
      body,
      bodyBytes,
      contentType,
      headers: Object.fromEntries(
        RECORDED_HEADERS.flatMap((h) => (request.headers[h] ? [[h, String(request.headers[h])]] : [])),
      ),
    });
    const text =
      `accepted ${result.accepted} event(s)` +
      (result.duplicates ? `, ${result.duplicates} already received` : '') +
      (result.queued ? '' : '; queued for processing once the queue is reachable');
    return {
      outcome: operationOutcome('information', 'informational', text),
      duplicate: result.accepted === 0 && result.duplicates > 0,
    };
  }

  /** Every secret the source declares must match: a right token does not excuse a wrong signature. */
  private authenticate(source: SourceConfig, request: Request): void {
    const { bearerToken, hmacSecret } = source.inbound;
    if (bearerToken && !tokenMatches(bearerOf(request.headers.authorization), bearerToken)) {
      throw OperationOutcomeError.unauthorized('missing or wrong bearer token for this source');
    }
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (hmacSecret && !signatureMatches(body, request.headers['x-signature'], hmacSecret)) {
      throw OperationOutcomeError.unauthorized(
        'missing or wrong X-Signature (HMAC-SHA256 of the body) for this source',
      );
    }
  }
}

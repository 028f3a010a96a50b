import { Controller, Delete, HttpCode, Inject, Param, Post, Put, Req, UseFilters } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import {
  isResourceId,
  isResourceType,
  OperationOutcomeError,
  OperationOutcomeFilter,
  operationOutcome,
} from '@aegle/fhir';
import { notificationsTotal } from '@aegle/telemetry';
import { IntakeService } from '@aegle/intake';
import { bodyRefusalOf } from '../http/request-bodies';
import { readNotificationBody } from './notification-body';
import { bearerOf, signatureMatches, tokenMatches } from './sender-auth';

/** Headers worth keeping with the notification record (never Authorization or cookies). */
const RECORDED_HEADERS = [
  'content-type',
  'user-agent',
  'traceparent',
  'x-request-id',
  'x-medplum-subscription',
  'x-medplum-interaction',
  'x-medplum-deleted-resource',
];

/** Loops rather than entries/map/fromEntries: these run on every notification. */
function recordedHeadersOf(headers: IncomingHttpHeaders): Record<string, string> {
  const recorded: Record<string, string> = {};
  for (const name of RECORDED_HEADERS) {
    const value = headers[name];
    if (value) recorded[name] = String(value).slice(0, 500);
  }
  return recorded;
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const name in headers) {
    const value = headers[name];
    flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** What the intake reads of a request, whichever HTTP adapter carries it. */
interface IntakeRequest {
  headers: IncomingHttpHeaders;
  body?: unknown;
}

/**
 * The endpoint EHRs send subscription notifications to, in every shape they use. It answers 2xx
 * only once the events are durably stored; every refusal is an OperationOutcome with the status
 * that names the mistake, and is recorded.
 */
@Controller('fhir/notify')
@UseFilters(OperationOutcomeFilter)
export class IntakeController {
  private readonly sources: Map<string, SourceConfig>;

  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly intake: IntakeService,
  ) {
    this.sources = new Map(config.sources.map((s) => [s.id, s]));
  }

  @Post(':sourceId')
  @HttpCode(200)
  notify(
    @Param('sourceId') sourceId: string,
    @Req() request: IntakeRequest,
  ): Promise<fhir4.OperationOutcome> {
    return this.receive(sourceId, 'POST', request);
  }

  @Put(':sourceId/:resourceType/:id')
  @HttpCode(200)
  notifyResource(
    @Param('sourceId') sourceId: string,
    @Param('resourceType') resourceType: string,
    @Param('id') id: string,
    @Req() request: IntakeRequest,
  ): Promise<fhir4.OperationOutcome> {
    return this.receive(sourceId, 'PUT', request, { resourceType, id });
  }

  @Delete(':sourceId/:resourceType/:id')
  @HttpCode(200)
  notifyDelete(
    @Param('sourceId') sourceId: string,
    @Param('resourceType') resourceType: string,
    @Param('id') id: string,
    @Req() request: IntakeRequest,
  ): Promise<fhir4.OperationOutcome> {
    return this.receive(sourceId, 'DELETE', request, { resourceType, id });
  }

  private async receive(
    sourceId: string,
    method: 'POST' | 'PUT' | 'DELETE',
    request: IntakeRequest,
    pathKey?: { resourceType: string; id: string },
  ): Promise<fhir4.OperationOutcome> {
    const bodyBytes = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const contentType = request.headers['content-type'];
    const meta = {
      sourceId: sourceId.slice(0, 64),
      bodyBytes,
      contentType: contentType?.slice(0, 200),
      recordedHeaders: recordedHeadersOf(request.headers),
    };
    // Unknown source ids share one metric label, so a caller cannot grow the label set.
    const sourceLabel = this.sources.has(sourceId) ? sourceId : 'unknown';
    try {
      const source = this.sources.get(sourceId);
      if (!source)
        throw OperationOutcomeError.notFound(`no source named "${sourceId.slice(0, 64)}" is configured`);
      const refused = bodyRefusalOf(request);
      if (refused?.status === 413) {
        throw OperationOutcomeError.tooLarge(
          `the body is larger than the ${this.config.intake.maxBodyBytes} bytes this endpoint accepts`,
        );
      }
      if (refused?.status === 415) throw OperationOutcomeError.unsupportedMediaType(refused.message);
      if (refused) throw OperationOutcomeError.badRequest(`the body could not be read: ${refused.message}`);
      this.authenticate(source, request, bodyBytes);
      if (pathKey && (!isResourceType(pathKey.resourceType) || !isResourceId(pathKey.id))) {
        throw OperationOutcomeError.badRequest('the URL must end in /{resourceType}/{id}');
      }
      const body = readNotificationBody(bodyBytes, contentType);
      const headers = flatHeaders(request.headers);
      const result = await this.intake.accept({ ...meta, method, pathKey, body, headers });
      notificationsTotal.inc({
        source: sourceLabel,
        outcome: result.accepted === 0 && result.duplicates > 0 ? 'duplicate' : 'accepted',
      });
      const text =
        `${result.shape}: accepted ${result.accepted} event(s)` +
        (result.duplicates ? `, ${result.duplicates} already received` : '') +
        (result.queued ? '' : '; queued for processing once the queue is reachable');
      return operationOutcome('information', 'informational', text);
    } catch (error) {
      const status = error instanceof OperationOutcomeError ? error.status : 500;
      notificationsTotal.inc({ source: sourceLabel, outcome: `rejected_${status}` });
      if (error instanceof OperationOutcomeError) await this.intake.reject(meta, error);
      throw error;
    }
  }

  /** Every secret the source declares must match: a right token does not excuse a wrong signature. */
  private authenticate(source: SourceConfig, request: IntakeRequest, body: Buffer): void {
    const { bearerToken, hmacSecret } = source.inbound;
    if (bearerToken && !tokenMatches(bearerOf(request.headers.authorization), bearerToken)) {
      throw OperationOutcomeError.unauthorized('missing or wrong bearer token for this source');
    }
    if (hmacSecret && !signatureMatches(body, request.headers['x-signature'], hmacSecret)) {
      throw OperationOutcomeError.unauthorized(
        'missing or wrong X-Signature (HMAC-SHA256 of the body) for this source',
      );
    }
  }
}

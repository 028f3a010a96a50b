import { createHash } from 'node:crypto';
import { OperationOutcomeError } from './operation-outcome';
import { isResourceId, isResourceType, keyOf, ResourceKey } from './references';

export type Interaction = 'create' | 'update' | 'delete';

/** One thing that happened to one resource in the EHR, whatever shape the EHR told us in. */
export interface FhirEvent {
  focus: ResourceKey;
  interaction: Interaction;
  subscription?: string;
  topic?: string;
  eventNumber?: number;
  /** The resource itself when the notification carried it (full-resource content). */
  resource?: fhir4.Resource;
}

export type NotificationShape = 'rest-hook-resource';

export interface NormalisedNotification {
  shape: NotificationShape;
  events: FhirEvent[];
}

/** An HTTP request to the intake endpoint, before anything is believed about it. */
export interface RawNotification {
  method: 'POST' | 'PUT';
  /** `{type}/{id}` from the URL of a `PUT {endpoint}/{type}/{id}` rest-hook. */
  pathKey?: { resourceType: string; id: string };
  body: unknown;
}

function asResource(body: unknown): fhir4.Resource {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw OperationOutcomeError.badRequest('the notification body must be a FHIR resource (a JSON object)');
  }
  const { resourceType } = body as { resourceType?: unknown };
  if (!isResourceType(resourceType)) {
    throw OperationOutcomeError.badRequest('the notification body has no valid resourceType', [
      'resourceType',
    ]);
  }
  return body as fhir4.Resource;
}

/**
 * Turns what an EHR POSTed or PUT into normalised events. New notification shapes (Backport
 * bundles, R5 notifications, pings, deletes) add a branch here and nothing downstream changes.
 */
export function normaliseNotification(raw: RawNotification): NormalisedNotification {
  const resource = asResource(raw.body);
  if (resource.resourceType === 'Bundle' || resource.resourceType === 'Parameters') {
    throw OperationOutcomeError.unprocessable(
      `a ${resource.resourceType} notification is not supported yet; send the resource itself`,
      ['resourceType'],
    );
  }
  if (raw.pathKey) {
    if (raw.pathKey.resourceType !== resource.resourceType) {
      throw OperationOutcomeError.badRequest(
        `the URL names a ${raw.pathKey.resourceType} but the body is a ${resource.resourceType}`,
      );
    }
    if (resource.id !== undefined && resource.id !== raw.pathKey.id) {
      throw OperationOutcomeError.badRequest('the resource id in the URL and in the body differ', ['id']);
    }
    resource.id = raw.pathKey.id;
  }
  const focus = keyOf(resource);
  if (!focus || !isResourceId(resource.id)) {
    throw OperationOutcomeError.badRequest(
      'the resource has no valid id, so it cannot be re-read from the EHR',
      ['id'],
    );
  }
  return {
    shape: 'rest-hook-resource',
    events: [{ focus, interaction: focus.versionId === '1' ? 'create' : 'update', resource }],
  };
}

/**
 * The key that makes an event processed once however often it arrives: the resource version
 * when the EHR gives one, else the content itself.
 */
export function deduplicationKey(sourceId: string, event: FhirEvent): string {
  if (event.subscription && event.eventNumber !== undefined) {
    return `${sourceId}|sub:${event.subscription}|${event.eventNumber}`;
  }
  const base = `${sourceId}|${event.focus.resourceType}/${event.focus.id}`;
  if (event.focus.versionId) return `${base}|v:${event.focus.versionId}|${event.interaction}`;
  const content = event.resource ? JSON.stringify(event.resource) : event.interaction;
  return `${base}|h:${createHash('sha256').update(content).digest('hex')}`;
}

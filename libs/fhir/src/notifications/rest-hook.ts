import { OperationOutcomeError } from '../operation-outcome';
import { isResourceId, isResourceType, keyOf, parseReference } from '../references';
import { FhirEvent, Interaction, NormalisedNotification, RawNotification } from './model';
import { isObject, stringOf } from './values';

/**
 * R4 classic rest-hook notifications, Medplum's dialect included: the resource itself (POST or
 * `PUT {endpoint}/{type}/{id}`), an empty POST (a ping), and deletes (`DELETE {endpoint}/{type}/{id}`
 * or Medplum's `{}` body with `X-Medplum-Deleted-Resource`).
 */
export function normaliseRestHook(raw: RawNotification): NormalisedNotification {
  const medplum = raw.headers['x-medplum-subscription'] !== undefined;
  const subscription = subscriptionIdOf(raw.headers['x-medplum-subscription']);
  const declared = interactionOf(raw.headers['x-medplum-interaction']);

  if (raw.method === 'DELETE') {
    if (!raw.pathKey) throw OperationOutcomeError.badRequest('a DELETE notification must name /{type}/{id}');
    return {
      shape: 'rest-hook-delete',
      subscription,
      events: [withSubscription({ focus: { ...raw.pathKey }, interaction: 'delete' }, subscription)],
    };
  }

  const deleted = raw.headers['x-medplum-deleted-resource'];
  if (deleted !== undefined || declared === 'delete') {
    const focus = deletedFocus(deleted, raw);
    return {
      shape: 'medplum-delete',
      subscription,
      events: [withSubscription({ focus, interaction: 'delete' }, subscription)],
    };
  }

  if (raw.body === undefined || (isObject(raw.body) && Object.keys(raw.body).length === 0)) {
    if (raw.pathKey)
      throw OperationOutcomeError.badRequest(`a ${raw.method} to /{type}/{id} needs the resource`);
    return { shape: 'rest-hook-ping', subscription, ping: true, events: [] };
  }

  const resource = asResource(raw.body);
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
  if (focus.versionId !== undefined && !isResourceId(focus.versionId)) delete focus.versionId;
  const interaction = declared ?? (focus.versionId === '1' ? 'create' : 'update');
  return {
    shape: medplum ? 'medplum-resource' : 'rest-hook-resource',
    subscription,
    events: [withSubscription({ focus, interaction, resource }, subscription)],
  };
}

export function asResource(body: unknown): fhir4.Resource {
  if (!isObject(body)) {
    throw OperationOutcomeError.badRequest('the notification body must be a FHIR resource (a JSON object)');
  }
  if (!isResourceType(body.resourceType)) {
    throw OperationOutcomeError.badRequest('the notification body has no valid resourceType', [
      'resourceType',
    ]);
  }
  return body as unknown as fhir4.Resource;
}

function deletedFocus(header: string | undefined, raw: RawNotification) {
  const fromHeader = header ? parseReference(header) : undefined;
  const fromBody = isObject(raw.body) && raw.body.resourceType ? keyOf(asResource(raw.body)) : undefined;
  const focus = fromHeader ?? raw.pathKey ?? fromBody;
  if (!focus || !isResourceId(focus.id)) {
    throw OperationOutcomeError.badRequest(
      'a delete notification must name the resource (X-Medplum-Deleted-Resource: {type}/{id})',
    );
  }
  return { resourceType: focus.resourceType, id: focus.id };
}

function interactionOf(header: string | undefined): Interaction | undefined {
  const value = header?.trim().toLowerCase();
  return value === 'create' || value === 'update' || value === 'delete' ? value : undefined;
}

/** `Subscription/abc`, an absolute URL or a bare id: the subscription's id either way. */
function subscriptionIdOf(header: string | undefined): string | undefined {
  const value = stringOf(header, 256);
  if (!value) return undefined;
  return parseReference(value.includes('/') ? value : `Subscription/${value}`)?.id;
}

function withSubscription(event: FhirEvent, subscription: string | undefined): FhirEvent {
  return subscription ? { ...event, subscription } : event;
}

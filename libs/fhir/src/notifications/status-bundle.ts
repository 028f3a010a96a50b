import { OperationOutcomeError } from '../operation-outcome';
import { isResourceId, isResourceType, parseReference, ResourceKey } from '../references';
import {
  FhirEvent,
  Interaction,
  NormalisedNotification,
  NotificationShape,
  NotificationType,
  SubscriptionStatusReport,
} from './model';
import { readParametersStatus, readSubscriptionStatus, StatusFields } from './subscription-status';
import { arrayOf, isObject, stringOf } from './values';

const TYPES: readonly NotificationType[] = [
  'handshake',
  'heartbeat',
  'event-notification',
  'query-status',
  'query-event',
];

interface Entry {
  fullUrl?: string;
  resource?: Record<string, unknown>;
  method?: string;
  status?: string;
}

/**
 * Topic-based notification Bundles: the Subscriptions Backport IG for R4 (`history` Bundle, first
 * entry a `Parameters` status) and R4B (first entry a `SubscriptionStatus`), and R5
 * `subscription-notification` Bundles. Content `empty`, `id-only` and `full-resource` all land here.
 */
export function normaliseStatusBundle(bundle: Record<string, unknown>): NormalisedNotification {
  const entries: Entry[] = arrayOf(bundle.entry)
    .filter(isObject)
    .map((entry) => ({
      fullUrl: stringOf(entry.fullUrl),
      resource: isObject(entry.resource) ? entry.resource : undefined,
      method: isObject(entry.request) ? stringOf(entry.request.method, 16)?.toUpperCase() : undefined,
      status: isObject(entry.response) ? stringOf(entry.response.status, 64) : undefined,
    }));
  const statusEntry = entries[0]?.resource;
  const bundleType = stringOf(bundle.type, 64);
  let shape: NotificationShape;
  let fields: StatusFields;
  if (bundleType === 'subscription-notification' && statusEntry?.resourceType === 'SubscriptionStatus') {
    shape = 'r5';
    fields = readSubscriptionStatus(statusEntry);
  } else if (bundleType === 'history' && statusEntry?.resourceType === 'SubscriptionStatus') {
    shape = 'backport-r4b';
    fields = readSubscriptionStatus(statusEntry);
  } else if (bundleType === 'history' && statusEntry?.resourceType === 'Parameters') {
    shape = 'backport-r4';
    fields = readParametersStatus(statusEntry);
  } else {
    throw OperationOutcomeError.unprocessable(
      `a Bundle of type "${bundleType ?? '(none)'}" whose first entry is not a subscription status is not a ` +
        'notification Aegle understands; send a Subscriptions Backport or R5 subscription-notification Bundle',
      ['Bundle.type', 'Bundle.entry[0]'],
    );
  }

  if (!fields.subscription) {
    throw OperationOutcomeError.badRequest('the subscription status does not name its subscription', [
      'subscription',
    ]);
  }
  const subscription = subscriptionKey(fields.subscription);
  const type = (fields.type ?? (fields.events.length > 0 ? 'event-notification' : undefined)) as
    NotificationType | undefined;
  if (!type || !TYPES.includes(type)) {
    throw OperationOutcomeError.unprocessable(
      `notification type "${fields.type ?? '(none)'}" is not one of ${TYPES.join(', ')}`,
      ['type'],
    );
  }

  const carriesEvents = type === 'event-notification' || type === 'query-event';
  const statusEvents = carriesEvents ? fields.events : [];
  // A lone event without a number is numbered by the status's running count, as the IG implies.
  if (statusEvents.length === 1 && statusEvents[0].eventNumber === undefined) {
    statusEvents[0] = { ...statusEvents[0], eventNumber: fields.eventsSinceSubscriptionStart };
  }
  const content = entries.slice(1);
  const events: FhirEvent[] = [];
  let eventsWithoutFocus = 0;
  for (const statusEvent of statusEvents) {
    const resolved = statusEvent.focus ? resolveFocus(statusEvent.focus, content) : undefined;
    if (!resolved) {
      eventsWithoutFocus++;
      continue;
    }
    events.push({
      focus: resolved.focus,
      interaction: resolved.interaction,
      subscription,
      ...(fields.topic ? { topic: fields.topic } : {}),
      ...(statusEvent.eventNumber !== undefined ? { eventNumber: statusEvent.eventNumber } : {}),
      ...(statusEvent.timestamp ? { timestamp: statusEvent.timestamp } : {}),
      ...(resolved.resource ? { resource: resolved.resource } : {}),
    });
  }
  const status: SubscriptionStatusReport = {
    subscription,
    ...(fields.topic ? { topic: fields.topic } : {}),
    type,
    ...(fields.status ? { status: fields.status } : {}),
    ...(fields.eventsSinceSubscriptionStart !== undefined
      ? { eventsSinceSubscriptionStart: fields.eventsSinceSubscriptionStart }
      : {}),
    eventNumbers: statusEvents.flatMap((e) => (e.eventNumber === undefined ? [] : [e.eventNumber])),
    eventsWithoutFocus,
  };
  return { shape, events, status, subscription };
}

/** `Subscription/123` from an absolute or relative reference; the cleaned text when it is no reference. */
function subscriptionKey(reference: string): string {
  const key = parseReference(reference);
  return key?.resourceType === 'Subscription' ? key.id : reference.slice(0, 256);
}

/**
 * Finds what a `focus` names: absolute or relative `Type/id` (matched to a content entry by type
 * and id, since servers write fullUrls against other bases), or a `urn:uuid:` fullUrl.
 */
function resolveFocus(
  reference: string,
  content: Entry[],
): { focus: ResourceKey; interaction: Interaction; resource?: fhir4.Resource } | undefined {
  const parsed = reference.startsWith('urn:') ? undefined : parseReference(reference);
  const entry = content.find((e) => {
    if (e.fullUrl === reference) return true;
    const key = keyOfEntry(e);
    return parsed !== undefined && key?.resourceType === parsed.resourceType && key.id === parsed.id;
  });
  const fromEntry = entry ? keyOfEntry(entry) : undefined;
  const focus = fromEntry ?? parsed;
  if (!focus) return undefined;
  const resource =
    entry?.resource && isResourceType(entry.resource.resourceType) && isResourceId(entry.resource.id)
      ? (entry.resource as unknown as fhir4.Resource)
      : undefined;
  const versionId = fromEntry?.versionId ?? parsed?.versionId;
  return {
    focus: { resourceType: focus.resourceType, id: focus.id, ...(versionId ? { versionId } : {}) },
    interaction: interactionOf(entry, versionId),
    ...(resource && entry?.method !== 'DELETE' ? { resource } : {}),
  };
}

function keyOfEntry(entry: Entry): ResourceKey | undefined {
  const resource = entry.resource;
  if (resource && isResourceType(resource.resourceType) && isResourceId(resource.id)) {
    const meta = isObject(resource.meta) ? resource.meta : {};
    const versionId = isResourceId(meta.versionId) ? meta.versionId : undefined;
    return { resourceType: resource.resourceType, id: resource.id, ...(versionId ? { versionId } : {}) };
  }
  return entry.fullUrl && !entry.fullUrl.startsWith('urn:') ? parseReference(entry.fullUrl) : undefined;
}

function interactionOf(entry: Entry | undefined, versionId: string | undefined): Interaction {
  if (entry?.method === 'DELETE') return 'delete';
  if (entry?.method === 'POST' || entry?.status?.startsWith('201')) return 'create';
  if (entry?.method === 'PUT' || entry?.method === 'PATCH') return 'update';
  return versionId === '1' ? 'create' : 'update';
}

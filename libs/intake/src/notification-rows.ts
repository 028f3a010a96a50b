import { hash, randomUUID } from 'node:crypto';
import { IntakeEventRow, IntakeNotificationRow, NewCatchUp, SubscriptionTouch } from '@aegle/store';
import { deduplicationKey, NormalisedNotification, versionKey } from '@aegle/fhir';

/** The subscription a classic rest-hook source is tracked under when the EHR does not name one. */
export const CLASSIC_SUBSCRIPTION = '*';

export interface NotificationRows {
  notification: IntakeNotificationRow;
  events: IntakeEventRow[];
  subscription: SubscriptionTouch;
  catchUps: NewCatchUp[];
}

export interface ReceivedMeta {
  sourceId: string;
  bodyBytes: Buffer;
  contentType?: string;
  /** The headers worth keeping with the record (never Authorization). */
  recordedHeaders: Record<string, string>;
}

/** The rows one understood notification becomes: the notification, its events, what it says of its subscription. */
export function notificationRows(meta: ReceivedMeta, normalised: NormalisedNotification): NotificationRows {
  const notificationId = randomUUID();
  const sourceId = meta.sourceId;
  const subscription = normalised.status?.subscription ?? normalised.subscription ?? CLASSIC_SUBSCRIPTION;
  const events: IntakeEventRow[] = normalised.events.map((event) => ({
    id: randomUUID(),
    notificationId,
    sourceId,
    subscription: event.subscription ?? null,
    topic: event.topic ?? null,
    eventNumber: event.eventNumber ?? null,
    interaction: event.interaction,
    focusType: event.focus.resourceType,
    focusId: event.focus.id,
    focusVersion: event.focus.versionId ?? null,
    resourceJson: event.resource ? JSON.stringify(event.resource) : null,
    dedupKey: deduplicationKey(sourceId, event),
    versionKey: versionKey(sourceId, event) ?? null,
    eventTimestamp: event.timestamp ?? null,
  }));

  const status = normalised.status;
  const numbers =
    status?.eventNumbers ?? events.flatMap((e) => (e.eventNumber === null ? [] : [e.eventNumber]));
  const announced = status?.eventsSinceSubscriptionStart;
  const baseline =
    status?.type === 'handshake'
      ? (announced ?? 0)
      : numbers.length > 0
        ? Math.min(...numbers) - 1
        : (announced ?? null);
  const catchUps: NewCatchUp[] = [];
  if (normalised.ping)
    catchUps.push({ sourceId, subscription, reason: 'ping', fromEvent: null, toEvent: null });
  if (status && status.eventsWithoutFocus > 0) {
    const carried = new Set(events.map((e) => e.eventNumber));
    const empty = status.eventNumbers.filter((n) => !carried.has(n));
    catchUps.push({
      sourceId,
      subscription,
      reason: 'empty-content',
      fromEvent: empty.length ? Math.min(...empty) : null,
      toEvent: empty.length ? Math.max(...empty) : null,
    });
  }
  return {
    notification: {
      id: notificationId,
      sourceId,
      shape: status ? `${normalised.shape}:${status.type}` : normalised.shape,
      contentType: meta.contentType ?? null,
      bodySha256: hash('sha256', meta.bodyBytes, 'hex'),
      bodyBytes: meta.bodyBytes.length,
      headers: meta.recordedHeaders,
      httpStatus: 200,
      error: null,
      eventCount: events.length,
    },
    events,
    subscription: {
      sourceId,
      subscription,
      topic: status?.topic ?? null,
      status: status?.status ?? null,
      baseline,
      highest: numbers.length ? Math.max(...numbers) : null,
      eventsSinceStart: announced ?? null,
      heartbeat: status?.type === 'heartbeat' || status?.type === 'handshake',
      lastSeenAt: latestLastUpdated(normalised),
    },
    catchUps,
  };
}

function latestLastUpdated(normalised: NormalisedNotification): string | null {
  let latest: number | undefined;
  for (const event of normalised.events) {
    const at = Date.parse(String(event.resource?.meta?.lastUpdated ?? ''));
    if (!Number.isNaN(at) && (latest === undefined || at > latest)) latest = at;
  }
  return latest === undefined ? null : new Date(latest).toISOString();
}

/** Merges what several notifications in one batch say about the same subscription into one row. */
export function mergeTouches(touches: SubscriptionTouch[]): SubscriptionTouch[] {
  const merged = new Map<string, SubscriptionTouch>();
  const max = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
  const min = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
  for (const t of touches) {
    const key = `${t.sourceId}\u0000${t.subscription}`;
    const prev = merged.get(key);
    if (!prev) {
      merged.set(key, { ...t });
      continue;
    }
    merged.set(key, {
      ...prev,
      topic: t.topic ?? prev.topic,
      status: t.status ?? prev.status,
      baseline: min(prev.baseline, t.baseline),
      highest: max(prev.highest, t.highest),
      eventsSinceStart: max(prev.eventsSinceStart, t.eventsSinceStart),
      heartbeat: prev.heartbeat || t.heartbeat,
      lastSeenAt:
        prev.lastSeenAt && t.lastSeenAt
          ? prev.lastSeenAt > t.lastSeenAt
            ? prev.lastSeenAt
            : t.lastSeenAt
          : (prev.lastSeenAt ?? t.lastSeenAt),
    });
  }
  return [...merged.values()];
}

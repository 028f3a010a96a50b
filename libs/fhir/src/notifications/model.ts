import type { ResourceKey } from '../references';

export type Interaction = 'create' | 'update' | 'delete';

/** One thing that happened to one resource in the EHR, whatever shape the EHR told us in. */
export interface FhirEvent {
  focus: ResourceKey;
  interaction: Interaction;
  subscription?: string;
  topic?: string;
  eventNumber?: number;
  /** When the EHR says the event happened (an instant, or a date some servers send). */
  timestamp?: string;
  /** The resource itself when the notification carried it (full-resource content). */
  resource?: fhir4.Resource;
}

/** The kinds of notification the Subscriptions framework (R5 and its R4/R4B backport) defines. */
export type NotificationType =
  'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

/** Which dialect the EHR spoke; recorded with the notification for the audit trail. */
export type NotificationShape =
  | 'rest-hook-resource'
  | 'rest-hook-ping'
  | 'rest-hook-delete'
  | 'medplum-resource'
  | 'medplum-delete'
  | 'backport-r4'
  | 'backport-r4b'
  | 'r5';

/** What a topic-based notification says about its subscription, beyond the events it carries. */
export interface SubscriptionStatusReport {
  subscription: string;
  topic?: string;
  type: NotificationType;
  /** The subscription's status on the EHR (`requested`, `active`, `error`, `off`). */
  status?: string;
  eventsSinceSubscriptionStart?: number;
  /** Event numbers this notification announced, including those with no focus (content `empty`). */
  eventNumbers: number[];
  /** Events announced without a focus the intake could name: they must be caught up by query. */
  eventsWithoutFocus: number;
}

export interface NormalisedNotification {
  shape: NotificationShape;
  events: FhirEvent[];
  status?: SubscriptionStatusReport;
  /** The classic subscription the notification came from, when the EHR names it (Medplum's header). */
  subscription?: string;
  /** An empty rest-hook POST: something changed, the EHR did not say what. */
  ping?: boolean;
}

/** An HTTP request to the intake endpoint, before anything is believed about it. */
export interface RawNotification {
  method: 'POST' | 'PUT' | 'DELETE';
  /** `{type}/{id}` from the URL of a `PUT|DELETE {endpoint}/{type}/{id}` rest-hook. */
  pathKey?: { resourceType: string; id: string };
  /** The parsed JSON body; undefined when the body was empty. */
  body: unknown;
  /** Request headers, lower-case names. */
  headers: Record<string, string | undefined>;
}

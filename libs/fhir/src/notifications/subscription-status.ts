import { arrayOf, eventNumberOf, isObject, referenceString, stringOf, timestampOf } from './values';

/** One `notificationEvent` as written in a status, before its focus is resolved against the bundle. */
export interface StatusEvent {
  eventNumber?: number;
  timestamp?: string;
  focus?: string;
}

/** The fields of a subscription status, read from whichever structure carried them. */
export interface StatusFields {
  subscription?: string;
  topic?: string;
  type?: string;
  status?: string;
  eventsSinceSubscriptionStart?: number;
  events: StatusEvent[];
}

/** R4B and R5 `SubscriptionStatus` (the two are the same for what the intake reads). */
export function readSubscriptionStatus(status: Record<string, unknown>): StatusFields {
  return {
    subscription: referenceString(status.subscription),
    topic: stringOf(status.topic),
    type: stringOf(status.type, 64),
    status: stringOf(status.status, 64),
    eventsSinceSubscriptionStart: eventNumberOf(status.eventsSinceSubscriptionStart),
    events: arrayOf(status.notificationEvent)
      .filter(isObject)
      .map((event) => ({
        eventNumber: eventNumberOf(event.eventNumber),
        timestamp: timestampOf(event.timestamp),
        focus: referenceString(event.focus),
      })),
  };
}

/**
 * The R4 backport's `Parameters` status (backport-subscription-status-r4). Servers type the numbers
 * as valueString, valueInteger, valueUnsignedInt or valueInteger64, so any `value[x]` is read.
 */
export function readParametersStatus(parameters: Record<string, unknown>): StatusFields {
  const params = arrayOf(parameters.parameter).filter(isObject);
  const named = (name: string) => params.filter((p) => p.name === name);
  const value = (param: Record<string, unknown> | undefined): unknown => {
    if (!param) return undefined;
    const key = Object.keys(param).find((k) => k.startsWith('value'));
    return key ? param[key] : undefined;
  };
  const first = (name: string) => value(named(name)[0]);
  return {
    subscription: referenceString(first('subscription')),
    topic: stringOf(first('topic')),
    type: stringOf(first('type'), 64),
    status: stringOf(first('status'), 64),
    eventsSinceSubscriptionStart: eventNumberOf(first('events-since-subscription-start')),
    events: named('notification-event').map((event) => {
      const parts = arrayOf(event.part).filter(isObject);
      const part = (name: string) => value(parts.find((p) => p.name === name));
      return {
        eventNumber: eventNumberOf(part('event-number')),
        timestamp: timestampOf(part('timestamp')),
        focus: referenceString(part('focus')),
      };
    }),
  };
}

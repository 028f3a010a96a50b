import { OperationOutcomeError } from '../operation-outcome';
import { NormalisedNotification, RawNotification } from './model';
import { normaliseRestHook } from './rest-hook';
import { normaliseStatusBundle } from './status-bundle';
import { isObject } from './values';

/** Resource types that are notification envelopes, never a notified resource in their own right. */
const ENVELOPES = new Set(['Parameters', 'SubscriptionStatus']);

/**
 * Turns whatever an EHR POSTed, PUT or DELETEd into normalised events: the one entry point over the
 * per-dialect readers. It throws only OperationOutcomeErrors (4xx): a body it cannot make sense of
 * is the sender's mistake, never a crash.
 */
export function normaliseNotification(raw: RawNotification): NormalisedNotification {
  try {
    const body = raw.body;
    if (raw.method === 'POST' && !raw.pathKey && isObject(body) && body.resourceType === 'Bundle') {
      const type = body.type;
      if (type === 'history' || type === 'subscription-notification') return normaliseStatusBundle(body);
      throw OperationOutcomeError.unprocessable(
        `a Bundle of type "${typeof type === 'string' ? type.slice(0, 40) : '(none)'}" is not a notification; ` +
          'send a Subscriptions Backport (history) or R5 subscription-notification Bundle, or the resource itself',
        ['Bundle.type'],
      );
    }
    if (isObject(body) && typeof body.resourceType === 'string' && ENVELOPES.has(body.resourceType)) {
      throw OperationOutcomeError.unprocessable(
        `a bare ${body.resourceType} is not a notification; send it as the first entry of a notification Bundle`,
        ['resourceType'],
      );
    }
    return normaliseRestHook(raw);
  } catch (error) {
    if (error instanceof OperationOutcomeError) throw error;
    // A reader tripped over a structure no EHR should send; still the body's fault, not ours.
    throw OperationOutcomeError.badRequest('the notification could not be understood');
  }
}

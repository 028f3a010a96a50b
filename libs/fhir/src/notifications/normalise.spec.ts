import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationOutcomeError } from '../operation-outcome';
import { deduplicationKey } from './deduplication';
import { RawNotification } from './model';
import { normaliseNotification } from './normalise';

/** Fixture JSON as the tests edit it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseJson = any;

const fixture = (name: string): LooseJson =>
  JSON.parse(
    readFileSync(join(__dirname, '../../../../test/fixtures/notifications', `${name}.json`), 'utf8'),
  );

const post = (body: unknown, headers: Record<string, string> = {}): RawNotification => ({
  method: 'POST',
  body,
  headers,
});

function refusal(raw: RawNotification): OperationOutcomeError {
  try {
    normaliseNotification(raw);
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('normaliseNotification', () => {
  describe.each([
    [
      'backport-r4',
      'backport-r4',
      'Subscription/123',
      'http://fhirserver.org/topics/patient-admission',
      1,
      2,
    ],
    ['backport-r4b', 'backport-r4b', 'admission', 'http://hl7.org/SubscriptionTopic/admission', 2, 2],
    ['r5-notification', 'r5', '123', 'http://example.org/FHIR/R5/SubscriptionTopic/admission', 2, 310],
  ])('%s bundles', (prefix, shape, subscription, topic, eventNumber, heartbeatCount) => {
    const sub = subscription.replace('Subscription/', '');

    it('reads a handshake as status only, with its running count', () => {
      const result = normaliseNotification(post(fixture(`${prefix}-handshake`)));
      expect(result.shape).toBe(shape);
      expect(result.events).toEqual([]);
      expect(result.status).toMatchObject({ type: 'handshake', subscription: sub, topic });
    });

    it('reads a heartbeat with eventsSinceSubscriptionStart as a number', () => {
      const result = normaliseNotification(post(fixture(`${prefix}-heartbeat`)));
      expect(result.events).toEqual([]);
      expect(result.status).toMatchObject({
        type: 'heartbeat',
        eventsSinceSubscriptionStart: heartbeatCount,
      });
    });

    it('reads id-only content as an event naming its focus, to be fetched', () => {
      const result = normaliseNotification(post(fixture(`${prefix}-event-id-only`)));
      expect(result.events).toHaveLength(1);
      const [event] = result.events;
      expect(event).toMatchObject({ subscription: sub, topic, eventNumber });
      expect(event.focus.resourceType).toBe('Encounter');
      expect(event.resource).toBeUndefined();
      expect(result.status?.eventsWithoutFocus).toBe(0);
    });

    it('reads full-resource content with the resource attached', () => {
      const result = normaliseNotification(post(fixture(`${prefix}-event-full-resource`)));
      expect(result.events).toHaveLength(1);
      expect(result.events[0].resource?.resourceType).toBe('Encounter');
      expect(result.events[0].focus.id).toBe(result.events[0].resource?.id);
    });

    it('reads empty content as numbered events without a focus, to be caught up', () => {
      const result = normaliseNotification(post(fixture(`${prefix}-event-empty`)));
      expect(result.events).toEqual([]);
      expect(result.status).toMatchObject({ type: 'event-notification', eventsWithoutFocus: 1 });
      expect(result.status?.eventNumbers).toHaveLength(1);
    });
  });

  describe('real-server deviations', () => {
    const r4b = () => fixture('backport-r4b-event-id-only') as LooseJson;

    it('takes a relative focus reference and an integer event number', () => {
      const bundle = r4b();
      bundle.entry[0].resource.notificationEvent[0] = {
        eventNumber: 7,
        focus: { reference: 'Encounter/e1' },
      };
      const [event] = normaliseNotification(post(bundle)).events;
      expect(event).toMatchObject({ eventNumber: 7, focus: { resourceType: 'Encounter', id: 'e1' } });
    });

    it('takes a timestamp typed as a date', () => {
      const bundle = r4b();
      bundle.entry[0].resource.notificationEvent[0].timestamp = '2024-03-01';
      expect(normaliseNotification(post(bundle)).events[0].timestamp).toBe('2024-03-01');
    });

    it('numbers a lone event without a number from the running count, and dedupes on it', () => {
      const bundle = r4b();
      delete bundle.entry[0].resource.notificationEvent[0].eventNumber;
      bundle.entry[0].resource.eventsSinceSubscriptionStart = 41;
      const [event] = normaliseNotification(post(bundle)).events;
      expect(event.eventNumber).toBe(41);
      expect(deduplicationKey('s', event)).toBe('s|sub:admission|41');
    });

    it('falls back to (resource, version) when events are not numbered at all', () => {
      const bundle = fixture('r5-notification-event-full-resource') as LooseJson;
      bundle.entry[0].resource.notificationEvent.push({ focus: { reference: 'Encounter/2' } });
      delete bundle.entry[0].resource.notificationEvent[0].eventNumber;
      const events = normaliseNotification(post(bundle)).events;
      expect(events.every((e) => e.eventNumber === undefined)).toBe(true);
      expect(deduplicationKey('s', events[0])).toBe('s|Encounter/2|v:1');
    });
  });

  describe('R4 classic rest-hook and Medplum', () => {
    const observation = { resourceType: 'Observation', id: 'o1', meta: { versionId: '3' }, status: 'final' };

    it('takes the resource itself, as an update unless it is version 1', () => {
      const result = normaliseNotification(post(observation));
      expect(result.shape).toBe('rest-hook-resource');
      expect(result.events[0]).toMatchObject({ interaction: 'update', focus: { id: 'o1', versionId: '3' } });
    });

    it('reads an empty POST as a ping', () => {
      expect(normaliseNotification(post(undefined))).toMatchObject({
        shape: 'rest-hook-ping',
        ping: true,
        events: [],
      });
    });

    it('takes a DELETE {type}/{id} as a delete', () => {
      const result = normaliseNotification({
        method: 'DELETE',
        pathKey: { resourceType: 'Observation', id: 'o1' },
        body: undefined,
        headers: {},
      });
      expect(result.events[0]).toMatchObject({
        interaction: 'delete',
        focus: { resourceType: 'Observation', id: 'o1' },
      });
    });

    it("takes Medplum's {} body with X-Medplum-Deleted-Resource as a delete of that resource", () => {
      const result = normaliseNotification(
        post({}, { 'x-medplum-subscription': 'sub-9', 'x-medplum-deleted-resource': 'Patient/p1' }),
      );
      expect(result.shape).toBe('medplum-delete');
      expect(result.events[0]).toMatchObject({
        interaction: 'delete',
        subscription: 'sub-9',
        focus: { resourceType: 'Patient', id: 'p1' },
      });
    });

    it('believes X-Medplum-Interaction over the version', () => {
      const result = normaliseNotification(
        post(observation, { 'x-medplum-subscription': 'Subscription/s1', 'x-medplum-interaction': 'create' }),
      );
      expect(result).toMatchObject({ shape: 'medplum-resource', subscription: 's1' });
      expect(result.events[0].interaction).toBe('create');
    });
  });

  describe('refusals', () => {
    it.each<[string, unknown, number]>([
      ['a body that is no resource', { hello: 'world' }, 400],
      ['an array', [1, 2], 400],
      ['a resource without an id', { resourceType: 'Observation' }, 400],
      ['a transaction Bundle', { resourceType: 'Bundle', type: 'transaction', entry: [] }, 422],
      ['a history Bundle without a status', { resourceType: 'Bundle', type: 'history', entry: [] }, 422],
      ['a bare SubscriptionStatus', { resourceType: 'SubscriptionStatus', type: 'heartbeat' }, 422],
    ])('%s → %s', (_name, body, status) => {
      expect(refusal(post(body)).status).toBe(status);
    });

    it('refuses a status without a subscription, and an unknown notification type', () => {
      const bundle = fixture('r5-notification-heartbeat') as LooseJson;
      const noSubscription = structuredClone(bundle);
      delete noSubscription.entry[0].resource.subscription;
      expect(refusal(post(noSubscription)).status).toBe(400);
      bundle.entry[0].resource.type = 'nonsense';
      expect(refusal(post(bundle)).status).toBe(422);
    });

    it('never throws anything but an OperationOutcomeError, whatever the structure', () => {
      const weird = [
        {
          resourceType: 'Bundle',
          type: 'history',
          entry: [{ resource: { resourceType: 'Parameters', parameter: 5 } }],
        },
        { resourceType: 'Bundle', type: 'subscription-notification', entry: 'x' },
        { resourceType: 'Bundle', type: 'history', entry: [null, { resource: null }] },
      ];
      for (const body of weird) {
        try {
          normaliseNotification(post(body));
        } catch (error) {
          expect(error).toBeInstanceOf(OperationOutcomeError);
        }
      }
    });
  });
});

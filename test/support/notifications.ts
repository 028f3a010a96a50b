import { createHmac } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(__dirname, '../fixtures/notifications');

/** The notification examples (Backport R4/R4B, R5), by file name without `.json`. */
export function notificationFixtures(): Map<string, string> {
  return new Map(
    readdirSync(DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => [f.replace(/\.json$/, ''), readFileSync(join(DIR, f), 'utf8')]),
  );
}

/** Fixture JSON as tests edit it: any field, any depth (the point is to send what real servers send). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LooseJson = any;

export function notificationFixture<T = LooseJson>(name: string): T {
  return JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as T;
}

/** Medplum-style X-Signature: hex HMAC-SHA256 of the exact body bytes. */
export function sign(body: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** An R4B Backport notification Bundle for a subscription (content full-resource when resources are given). */
export function backportR4b(options: {
  subscription: string;
  type: 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';
  eventsSinceSubscriptionStart?: number;
  events?: Array<{ eventNumber?: number | string; focus: string; resource?: fhir4.Resource }>;
}): fhir4.Bundle {
  const events = options.events ?? [];
  return {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${Math.random().toString(16).slice(2)}`,
        resource: {
          resourceType: 'SubscriptionStatus',
          status: 'active',
          type: options.type,
          eventsSinceSubscriptionStart: String(
            options.eventsSinceSubscriptionStart ??
              Math.max(0, ...events.map((e) => Number(e.eventNumber ?? 0))),
          ),
          notificationEvent: events.map((e) => ({
            ...(e.eventNumber !== undefined ? { eventNumber: e.eventNumber } : {}),
            focus: { reference: e.focus },
          })),
          subscription: { reference: `https://ehr.example/fhir/Subscription/${options.subscription}` },
          topic: 'http://example.org/topics/observation-changes',
        } as unknown as fhir4.FhirResource,
        request: { method: 'GET', url: `Subscription/${options.subscription}/$status` },
        response: { status: '200' },
      },
      ...events.flatMap((e) =>
        e.resource
          ? [
              {
                fullUrl: `https://ehr.example/fhir/${e.focus}`,
                resource: e.resource as fhir4.FhirResource,
                request: { method: 'PUT' as const, url: e.focus },
                response: { status: '200' },
              },
            ]
          : [],
      ),
    ],
  };
}

import { gzipSync } from 'node:zlib';
import { DataSource } from 'typeorm';
import { CatchUpService } from '@aegle/intake';
import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { json } from './support/http';
import { backportR4b, notificationFixture, notificationFixtures, sign } from './support/notifications';

const TOKEN = 'intake-e2e-token';
const SECRET = 'intake-e2e-hmac-secret';
const ADMIN = 'intake-e2e-admin-token';
const MAX_BODY = 64 * 1024;

/** An event notification of one numbered change to the same Encounter, for the gap tests. */
const gapEvent = (subscription: string, eventNumber: number) =>
  backportR4b({
    subscription,
    type: 'event-notification',
    events: [{ eventNumber, focus: 'Encounter/gap-a' }],
  });

interface Send {
  method?: string;
  path?: string;
  contentType?: string | null;
  token?: string;
  headers?: Record<string, string>;
}

describe('intake: every notification shape an EHR sends, verified, none lost', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let db: DataSource;
  let catchUps: CatchUpService;

  beforeAll(async () => {
    ehr = await startFhirServer();
    aegle = await startAegle({
      adminToken: ADMIN,
      intake: { maxBodyBytes: MAX_BODY },
      sources: [
        {
          id: 'plain',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          subscription: { criteria: ['Encounter?status=in-progress'], heartbeatSeconds: 60 },
        },
        {
          id: 'events-ehr',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          subscription: { criteria: ['Encounter'], eventsOperation: true },
        },
        { id: 'medplum', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN, hmacSecret: SECRET },
      ],
    });
    db = aegle.db;
    catchUps = aegle.app.get(CatchUpService);
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  function send(source: string, body: unknown, init: Send = {}): Promise<Response> {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = {
      authorization: `Bearer ${init.token ?? TOKEN}`,
      ...init.headers,
    };
    if (init.contentType !== null) headers['content-type'] = init.contentType ?? 'application/fhir+json';
    return fetch(`${aegle.url}/fhir/notify/${source}${init.path ?? ''}`, {
      method: init.method ?? 'POST',
      headers,
      body: text,
    });
  }

  async function expectAccepted(response: Response): Promise<string> {
    const text = await response.text();
    expect({ status: response.status, text }).toEqual({ status: 200, text: expect.any(String) });
    const outcome = JSON.parse(text) as fhir4.OperationOutcome;
    expect(outcome.issue[0].severity).toBe('information');
    return outcome.issue[0].diagnostics ?? '';
  }

  const eventsOf = (source: string, subscription: string) =>
    db.query(
      `SELECT event_number::int AS n, focus_type, focus_id, interaction, status, topic
       FROM event WHERE source_id = $1 AND subscription = $2 ORDER BY event_number`,
      [source, subscription],
    );

  describe('Subscriptions Backport (R4, R4B) and R5 bundles', () => {
    const fixtures = [...notificationFixtures()];

    it.each(fixtures)('accepts %s and records what it says', async (name, text) => {
      const subscription = `fx-${name}`;
      const body = text.replace(/Subscription\/(123|admission)/g, `Subscription/${subscription}`);
      const diagnostics = await expectAccepted(await send('events-ehr', body));
      const kind = /handshake|heartbeat/.exec(name)?.[0] ?? 'event-notification';
      expect(diagnostics).toMatch(new RegExp(`^(backport-r4b?|r5):${kind}`));

      const [state] = await db.query(
        `SELECT topic, last_heartbeat_at, highest_event_number FROM subscription_state
         WHERE source_id = 'events-ehr' AND subscription = $1`,
        [subscription],
      );
      if (text.includes('"topic"')) expect(state.topic).toMatch(/^http/);
      if (kind !== 'event-notification') {
        expect(state.last_heartbeat_at).not.toBeNull();
        return;
      }
      const events = await eventsOf('events-ehr', subscription);
      if (name.endsWith('empty')) {
        expect(events).toEqual([]);
        const [catchUp] = await db.query(`SELECT reason FROM catch_up WHERE subscription = $1`, [
          subscription,
        ]);
        expect(catchUp.reason).toBe('empty-content');
      } else {
        expect(events).toEqual([
          expect.objectContaining({ focus_type: 'Encounter', n: Number(state.highest_event_number) }),
        ]);
      }
    });

    it('reads the focus of an id-only event from the EHR', async () => {
      await fetch(`${ehr.baseUrl}/Encounter/idonly-1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'Encounter',
          id: 'idonly-1',
          status: 'finished',
          class: { code: 'AMB' },
        }),
      });
      const bundle = backportR4b({
        subscription: 'idonly-sub',
        type: 'event-notification',
        events: [{ eventNumber: 1, focus: 'Encounter/idonly-1' }],
      });
      await expectAccepted(await send('plain', bundle));
      await aegle.waitForIdle();
      expect(ehr.requests).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ method: 'GET', path: '/fhir/Encounter/idonly-1' }),
        ]),
      );
      expect(await eventsOf('plain', 'idonly-sub')).toEqual([
        expect.objectContaining({ n: 1, status: 'routed', focus_id: 'idonly-1' }),
      ]);
    });

    it('processes the same (subscription, event number) or (resource, version) once', async () => {
      const body = notificationFixture('r5-notification-event-full-resource');
      body.entry[0].resource.subscription.reference = 'Subscription/dup-sub';
      await expectAccepted(await send('plain', body));
      expect(await expectAccepted(await send('plain', body))).toMatch(
        /accepted 0 event\(s\), 1 already received/,
      );
      // The same change once more, now as a classic rest-hook with the resource itself.
      const resource = body.entry[1].resource;
      expect(await expectAccepted(await send('plain', resource))).toMatch(/1 already received/);
      const [{ count }] = await db.query(
        `SELECT count(*)::int FROM event WHERE source_id = 'plain' AND focus_id = '2' AND focus_version = '1'`,
      );
      expect(count).toBe(1);
    });
  });

  describe('gaps, pings and heartbeats', () => {
    beforeAll(async () => {
      for (const id of ['gap-a', 'gap-b']) {
        await fetch(`${ehr.baseUrl}/Encounter/${id}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify({
            resourceType: 'Encounter',
            id,
            status: 'in-progress',
            class: { code: 'AMB' },
          }),
        });
      }
    });

    it('catches up a jump in event numbers with a _lastUpdated search when the EHR has no $events', async () => {
      const event = (n: number) => gapEvent('gap-sub', n);
      await expectAccepted(await send('plain', backportR4b({ subscription: 'gap-sub', type: 'handshake' })));
      await expectAccepted(await send('plain', event(1)));
      await expectAccepted(await send('plain', event(4)));
      await catchUps.idle();

      const rows = await db.query(
        `SELECT reason, from_event::int, to_event::int, status, method, recovered FROM catch_up
         WHERE subscription = 'gap-sub'`,
      );
      expect(rows).toEqual([
        expect.objectContaining({
          reason: 'gap',
          from_event: 2,
          to_event: 3,
          status: 'done',
          method: 'search',
        }),
      ]);
      const search = ehr.requests.find(
        (r) => r.path.startsWith('/fhir/Encounter?') && r.path.includes('_lastUpdated'),
      );
      expect(search?.path).toMatch(/status=in-progress/);
      expect(search?.path).toMatch(/_lastUpdated=ge/);
      const recovered = await db.query(
        `SELECT e.focus_id FROM event e JOIN notification n ON n.id = e.notification_id
         WHERE n.headers->>'x-aegle-catch-up-reason' = 'gap' AND e.source_id = 'plain'`,
      );
      expect(recovered.map((r: { focus_id: string }) => r.focus_id)).toEqual(
        expect.arrayContaining(['gap-b']),
      );
    });

    it('catches up a jump of tens of thousands in bounded chunks, and moves the watermark past it', async () => {
      const event = (n: number) => gapEvent('far-sub', n);
      await expectAccepted(await send('plain', backportR4b({ subscription: 'far-sub', type: 'handshake' })));
      await expectAccepted(await send('plain', event(1)));
      await expectAccepted(await send('plain', event(25_000)));
      await catchUps.idle();
      const rows = await db.query(
        `SELECT from_event::int, to_event::int, status FROM catch_up WHERE subscription = 'far-sub' ORDER BY from_event`,
      );
      expect(rows).toEqual([
        // #1 had already moved the watermark to 1; each check looks at 10,000 numbers at most.
        { from_event: 2, to_event: 10_001, status: 'done' },
        { from_event: 10_002, to_event: 20_001, status: 'done' },
        { from_event: 20_002, to_event: 24_999, status: 'done' },
      ]);
      const [state] = await db.query(
        `SELECT contiguous_through::int AS through FROM subscription_state WHERE subscription = 'far-sub'`,
      );
      expect(state.through).toBe(25_000);
    });

    describe('with $events', () => {
      const replayed: string[] = [];
      beforeAll(() =>
        ehr.onRequest((req) => {
          const match = /\/fhir\/Subscription\/ev-sub\/\$events\?(.*)$/.exec(req.path);
          if (!match) return;
          replayed.push(match[1]);
          const query = new URLSearchParams(match[1]);
          const from = Number(query.get('eventsSinceNumber'));
          const to = Number(query.get('eventsUntilNumber'));
          const numbers = Array.from({ length: to - from + 1 }, (_, i) => from + i);
          const bundle = backportR4b({
            subscription: 'ev-sub',
            type: 'query-event',
            events: numbers.map((n) => ({
              eventNumber: n,
              focus: `Encounter/ev-${n}`,
              resource: {
                resourceType: 'Encounter',
                id: `ev-${n}`,
                meta: { versionId: '1' },
                status: 'finished',
                class: { code: 'AMB' },
              } as fhir4.Encounter,
            })),
          });
          return { status: 200, body: bundle };
        }),
      );
      afterAll(() => ehr.onRequest(undefined));

      const event = (n: number | string) =>
        backportR4b({
          subscription: 'ev-sub',
          type: 'event-notification',
          events: [
            {
              eventNumber: n,
              focus: `Encounter/ev-${n}`,
              resource: {
                resourceType: 'Encounter',
                id: `ev-${n}`,
                meta: { versionId: '1' },
                status: 'finished',
                class: { code: 'AMB' },
              } as fhir4.Encounter,
            },
          ],
        });

      it('replays the missing numbers through Subscription/$events', async () => {
        await expectAccepted(await send('events-ehr', event(1)));
        await expectAccepted(await send('events-ehr', event('4'))); // a string event number, as some servers send
        await catchUps.idle();
        expect(replayed).toEqual([expect.stringMatching(/eventsSinceNumber=2&eventsUntilNumber=3/)]);
        expect((await eventsOf('events-ehr', 'ev-sub')).map((e: { n: number }) => e.n)).toEqual([1, 2, 3, 4]);
        const [row] = await db.query(`SELECT * FROM catch_up WHERE subscription = 'ev-sub'`);
        expect(row).toMatchObject({ reason: 'gap', method: '$events', status: 'done', recovered: 2 });
      });

      it('catches up when a heartbeat counts more events than arrived', async () => {
        await expectAccepted(
          await send(
            'events-ehr',
            backportR4b({ subscription: 'ev-sub', type: 'heartbeat', eventsSinceSubscriptionStart: 6 }),
          ),
        );
        await catchUps.idle();
        expect((await eventsOf('events-ehr', 'ev-sub')).map((e: { n: number }) => e.n)).toEqual([
          1, 2, 3, 4, 5, 6,
        ]);
        const rows = await db.query(
          `SELECT reason, from_event::int, to_event::int FROM catch_up WHERE subscription = 'ev-sub' ORDER BY created_at`,
        );
        expect(rows[1]).toEqual({ reason: 'heartbeat-ahead', from_event: 5, to_event: 6 });
      });
    });

    it('answers an empty POST (a ping) by asking the EHR what changed since it last looked', async () => {
      const before = ehr.requests.length;
      expect(await expectAccepted(await send('plain', undefined, { contentType: null }))).toMatch(
        /^rest-hook-ping/,
      );
      await catchUps.idle();
      const searches = ehr.requests.slice(before).filter((r) => r.path.includes('_lastUpdated=ge'));
      expect(searches).toHaveLength(1);
      const [row] = await db.query(`SELECT * FROM catch_up WHERE reason = 'ping' AND source_id = 'plain'`);
      expect(row).toMatchObject({ subscription: '*', status: 'done', method: 'search' });
    });

    it('flags a subscription whose heartbeat is overdue, in the audit trail and the admin API', async () => {
      await expectAccepted(
        await send(
          'plain',
          backportR4b({ subscription: 'hb-sub', type: 'heartbeat', eventsSinceSubscriptionStart: 0 }),
        ),
      );
      await db.query(
        `UPDATE subscription_state SET last_heartbeat_at = now() - interval '1 hour',
           last_notification_at = now() - interval '1 hour' WHERE subscription = 'hb-sub'`,
      );
      await catchUps.sweep();
      await catchUps.idle();
      const admin = (path: string) =>
        json<Array<{ subscription: string; heartbeatOverdueSince: string | null; reason?: string }>>(
          fetch(`${aegle.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } }),
        );
      const views = await admin('/api/admin/intake/subscriptions?source=plain');
      expect(views.find((v) => v.subscription === 'hb-sub')?.heartbeatOverdueSince).toEqual(
        expect.any(String),
      );
      const rows = await admin('/api/admin/intake/catch-ups?source=plain&subscription=hb-sub');
      expect(rows).toEqual([expect.objectContaining({ reason: 'heartbeat-overdue' })]);
      expect((await fetch(`${aegle.url}/api/admin/intake/catch-ups`)).status).toBe(401);

      // The next heartbeat clears the flag.
      await expectAccepted(
        await send(
          'plain',
          backportR4b({ subscription: 'hb-sub', type: 'heartbeat', eventsSinceSubscriptionStart: 0 }),
        ),
      );
      const after = await admin('/api/admin/intake/subscriptions?source=plain');
      expect(after.find((v) => v.subscription === 'hb-sub')?.heartbeatOverdueSince).toBeNull();
    });
  });

  describe('classic rest-hook and Medplum', () => {
    it('takes a PUT {type}/{id} and a DELETE {type}/{id}', async () => {
      const observation = {
        resourceType: 'Observation',
        id: 'put-1',
        meta: { versionId: '1' },
        status: 'final',
        code: { text: 'x' },
      };
      await expectAccepted(await send('plain', observation, { method: 'PUT', path: '/Observation/put-1' }));
      await expectAccepted(
        await send('plain', undefined, { method: 'DELETE', path: '/Observation/put-1', contentType: null }),
      );
      await aegle.waitForIdle();
      const rows = await db.query(
        `SELECT interaction, status, reason FROM event WHERE focus_id = 'put-1' ORDER BY created_at`,
      );
      expect(rows).toEqual([
        expect.objectContaining({ interaction: 'create' }),
        { interaction: 'delete', status: 'routed', reason: expect.stringMatching(/deleted/) },
      ]);
    });

    it('verifies X-Signature on the raw bytes, and reads the Medplum headers', async () => {
      const body = JSON.stringify({
        resourceType: 'Observation',
        id: 'mp-1',
        meta: { versionId: 'a1' },
        status: 'final',
        code: { text: 'x' },
      });
      const headers = { 'x-medplum-subscription': 'Subscription/mp-sub', 'x-medplum-interaction': 'update' };
      expect(
        await expectAccepted(
          await send('medplum', body, { headers: { ...headers, 'x-signature': sign(body, SECRET) } }),
        ),
      ).toMatch(/^medplum-resource/);
      const wrong = await send('medplum', body, {
        headers: { ...headers, 'x-signature': sign(body, 'another-secret') },
      });
      expect(wrong.status).toBe(401);
      const unsigned = await send('medplum', body, { headers });
      expect(unsigned.status).toBe(401);

      const deleted = '{}';
      const del = await send('medplum', deleted, {
        headers: {
          'x-medplum-subscription': 'mp-sub',
          'x-medplum-deleted-resource': 'Observation/mp-1',
          'x-signature': sign(deleted, SECRET),
        },
      });
      expect(await expectAccepted(del)).toMatch(/^medplum-delete/);
      const rows = await db.query(
        `SELECT interaction, subscription FROM event WHERE focus_id = 'mp-1' ORDER BY created_at`,
      );
      expect(rows).toEqual([
        { interaction: 'update', subscription: 'mp-sub' },
        { interaction: 'delete', subscription: 'mp-sub' },
      ]);
    });

    it('skips a stale version that arrives late, and records it', async () => {
      const version = (v: string) => ({
        resourceType: 'Observation',
        id: 'ord-1',
        meta: { versionId: v },
        status: 'final',
        code: { text: 'x' },
      });
      await expectAccepted(await send('plain', version('3')));
      await aegle.waitForIdle();
      await expectAccepted(await send('plain', version('2')));
      await aegle.waitForIdle();
      const rows = await db.query(
        `SELECT focus_version, status, reason FROM event WHERE focus_id = 'ord-1' ORDER BY created_at`,
      );
      expect(rows).toEqual([
        expect.objectContaining({ focus_version: '3', status: 'routed' }),
        { focus_version: '2', status: 'stale', reason: expect.stringMatching(/newer version \(3\)/) },
      ]);
    });
  });

  describe('media types and refusals', () => {
    const resource = (id: string) =>
      JSON.stringify({ resourceType: 'Observation', id, status: 'final', code: { text: 'x' } });

    it.each([
      ['text/plain', 'ct-1'],
      ['application/json; charset=UTF-8', 'ct-2'],
      ['application/fhir+json;fhirVersion=4.0', 'ct-3'],
      ['application/json+fhir', 'ct-4'],
    ])('accepts a JSON body sent as %s', async (contentType, id) => {
      await expectAccepted(await send('plain', resource(id), { contentType }));
    });

    it('reads a gzip-compressed body, and refuses a content encoding it does not know (415)', async () => {
      const compressed = await fetch(`${aegle.url}/fhir/notify/plain`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/fhir+json',
          'content-encoding': 'gzip',
        },
        body: gzipSync(resource('gz-1')),
      });
      await expectAccepted(compressed);
      const [row] = await db.query(`SELECT count(*)::int AS n FROM event WHERE focus_id = 'gz-1'`);
      expect(row.n).toBe(1);
      const unknown = await send('plain', resource('zz-1'), { headers: { 'content-encoding': 'zstd' } });
      expect(unknown.status).toBe(415);
      expect(await json<fhir4.OperationOutcome>(unknown)).toMatchObject({
        issue: [{ severity: 'error', diagnostics: expect.stringMatching(/content encoding "zstd"/) }],
      });
    });

    it.each<[string, number, () => Promise<Response>]>([
      [
        'a body that is not JSON, as text/plain',
        415,
        () => send('plain', 'hello', { contentType: 'text/plain' }),
      ],
      ['XML', 415, () => send('plain', '<Observation/>', { contentType: 'application/xml' })],
      [
        'a charset other than UTF-8',
        415,
        () => send('plain', resource('cs'), { contentType: 'application/json; charset=latin1' }),
      ],
      ['malformed JSON', 400, () => send('plain', '{"resourceType": "Observation", ')],
      [
        'FHIR STU3',
        422,
        () => send('plain', resource('v3'), { contentType: 'application/fhir+json; fhirVersion=3.0' }),
      ],
      ['a transaction Bundle', 422, () => send('plain', { resourceType: 'Bundle', type: 'transaction' })],
      [
        'a body over the limit',
        413,
        () => send('plain', `{"resourceType":"Basic","id":"big","x":"${'a'.repeat(MAX_BODY)}"}`),
      ],
      ['an unknown source', 404, () => send('nope', resource('x'))],
      ['a wrong token', 401, () => send('plain', resource('x'), { token: 'wrong-token-1234' })],
      [
        'text PostgreSQL cannot store',
        400,
        () => send('plain', '{"resourceType":"Observation","id":"nul","note":[{"text":"a\\u0000b"}]}'),
      ],
    ])('refuses %s with an OperationOutcome (%i), and records it', async (_name, status, request) => {
      const before = await db.query(`SELECT count(*)::int AS n FROM notification WHERE http_status = $1`, [
        status,
      ]);
      const response = await request();
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/application\/fhir\+json/);
      const body = await json<fhir4.OperationOutcome>(response);
      expect(body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] });
      const after = await db.query(`SELECT count(*)::int AS n FROM notification WHERE http_status = $1`, [
        status,
      ]);
      expect(after[0].n).toBe(before[0].n + 1);
    });
  });
});

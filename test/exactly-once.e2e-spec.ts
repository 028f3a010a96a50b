import { DataSource } from 'typeorm';
import { CatchUpService } from '@aegle/intake';
import { RunningAegle, startAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { json } from './support/http';
import { backportR4b } from './support/notifications';
import { pceChart } from './fixtures/patients';

jest.setTimeout(120_000);

const TOKEN = 'exactly-once-token';
const PCE = 'http://loinc.org|79423-0';

/**
 * One version of a resource is processed once, whatever path brought it: an id-only event (whose
 * version is only known once the router reads it), a full resource, a catch-up search. Real EHR
 * behaviours: id-only Backport events carry no version; Medplum's versions are UUIDs, so a catch-up
 * cannot tell a create from an update.
 */
describe('exactly once, whatever path delivers a version', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let db: DataSource;
  let catchUps: CatchUpService;

  beforeAll(async () => {
    ehr = await startFhirServer();
    aegle = await startAegle({
      sources: [
        {
          id: 'ehr',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          subscription: { criteria: ['Observation?code=http://loinc.org|2093-3'], content: 'id-only' },
        },
      ],
    });
    db = aegle.db;
    catchUps = aegle.app.get(CatchUpService);
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  /** A chart with everything the ASCVD model needs; returns its cholesterol result. */
  async function seedPatient(id: string, cholesterol: number): Promise<fhir4.Observation & { id: string }> {
    const [, tc] = await ehr.seed(pceChart(id, { gender: 'female', age: 55, cholesterol }));
    return tc as fhir4.Observation & { id: string };
  }

  const send = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${aegle.url}/fhir/notify/ehr`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/fhir+json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((r) => expect(r.status).toBe(200));

  const idOnly = (subscription: string, eventNumber: number, focus: string) =>
    send(backportR4b({ subscription, type: 'event-notification', events: [{ eventNumber, focus }] }));

  /** An empty rest-hook POST: Aegle catches up with a `_lastUpdated` search over the criteria. */
  async function ping(): Promise<void> {
    await send(undefined);
    await aegle.waitForIdle();
    await catchUps.idle();
    await aegle.waitForIdle();
  }

  const risks = async (patientId: string) =>
    (
      await json<fhir4.Bundle>(fetch(`${ehr.baseUrl}/Observation?subject=Patient/${patientId}&code=${PCE}`))
    ).entry?.map((e) => e.resource as fhir4.Observation) ?? [];

  const runsFor = async (focusId: string) =>
    (
      (await db.query(
        `SELECT count(*)::int AS n FROM plugin_run r JOIN event e ON e.id = r.event_id WHERE e.focus_id = $1`,
        [focusId],
      )) as Array<{ n: number }>
    )[0].n;

  it('an id-only update reaches the chart as a new result, keyed on the version read', async () => {
    const tc = await seedPatient('once-a', 213);
    await idOnly('once-a-sub', 1, `Observation/${tc.id}`);
    await aegle.waitForIdle();
    const [first] = await risks('once-a');
    expect(first).toBeDefined();

    // The cholesterol is corrected; the EHR says so id-only, as before.
    const updated = await json<fhir4.Observation>(
      fetch(`${ehr.baseUrl}/Observation/${tc.id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...tc, valueQuantity: { ...tc.valueQuantity, value: 290 } }),
      }),
    );
    await idOnly('once-a-sub', 2, `Observation/${tc.id}`);
    await aegle.waitForIdle();

    const events = (await db.query(
      `SELECT focus_version, version_key, status FROM event WHERE focus_id = $1 ORDER BY event_number`,
      [tc.id],
    )) as Array<{ focus_version: string; version_key: string; status: string }>;
    expect(events).toEqual([
      {
        focus_version: tc.meta!.versionId,
        version_key: `ehr|Observation/${tc.id}|v:${tc.meta!.versionId}`,
        status: 'routed',
      },
      {
        focus_version: updated.meta!.versionId,
        version_key: `ehr|Observation/${tc.id}|v:${updated.meta!.versionId}`,
        status: 'routed',
      },
    ]);
    const outcomes = (await db.query(
      `SELECT w.outcome FROM write_back w JOIN plugin_run r ON r.id = w.run_id JOIN event e ON e.id = r.event_id
       WHERE e.focus_id = $1 ORDER BY w.outcome`,
      [tc.id],
    )) as Array<{ outcome: string }>;
    expect(outcomes.map((o) => o.outcome)).toEqual(['created', 'created', 'superseded']);
    const all = await risks('once-a');
    expect(all).toHaveLength(2);
    const newest = all.find((o) => o.id !== first.id)!;
    expect(newest.valueQuantity!.value).toBeGreaterThan(first.valueQuantity!.value!);
    expect(newest.derivedFrom).toEqual(
      expect.arrayContaining([{ reference: `Observation/${tc.id}/_history/${updated.meta!.versionId}` }]),
    );
  });

  it('the same version id-only, then by a catch-up, then id-only again, gives one Observation', async () => {
    const tc = await seedPatient('once-b', 240);
    await idOnly('once-b-sub', 1, `Observation/${tc.id}`);
    await aegle.waitForIdle();
    await ping(); // finds the same version by search
    await idOnly('once-b-sub', 2, `Observation/${tc.id}`); // the EHR repeats itself
    await aegle.waitForIdle();

    const risk = await risks('once-b');
    expect(risk).toHaveLength(1);
    expect(risk[0].status).toBe('preliminary');
    expect(risk[0].extension ?? []).not.toEqual(
      expect.arrayContaining([expect.objectContaining({ url: expect.stringMatching(/superseded/) })]),
    );
    expect(await runsFor(tc.id)).toBe(1);
    const [repeat] = (await db.query(
      `SELECT status, reason FROM event WHERE focus_id = $1 AND event_number = 2`,
      [tc.id],
    )) as Array<{ status: string; reason: string }>;
    expect(repeat).toEqual({ status: 'routed', reason: expect.stringMatching(/already delivered/) });
  });

  it('a version delivered as create (Medplum) and found again by a catch-up as update is routed once', async () => {
    const tc = await seedPatient('once-c', 200);
    // Medplum names the interaction in a header; its version ids are opaque.
    await send(tc, { 'x-medplum-subscription': 'Subscription/mp-1', 'x-medplum-interaction': 'create' });
    await aegle.waitForIdle();
    await ping();

    const events = (await db.query(`SELECT interaction FROM event WHERE focus_id = $1`, [tc.id])) as Array<{
      interaction: string;
    }>;
    expect(events).toEqual([{ interaction: 'create' }]);
    expect(await runsFor(tc.id)).toBe(1);
    expect(await risks('once-c')).toHaveLength(1);
  });
});

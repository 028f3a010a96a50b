import { DataSource } from 'typeorm';
import { RunningAegle, startAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { json } from './support/http';
import { daysAgo, lab, pceChart } from './fixtures/patients';

jest.setTimeout(120_000);

const TOKEN = 'transactions-token';
const PCE = 'http://loinc.org|79423-0';

/**
 * An EHR that answers a `transaction` with 200 `transaction-response` while an entry failed (as
 * Medplum does for a project without the `transaction-bundles` feature: it runs the Bundle as a
 * batch). Every entry is checked: a result whose Provenance or supersession did not land is not
 * recorded as written, and the source then gets sequential conditional writes.
 */
describe('write-back: transaction responses checked entry by entry', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let db: DataSource;
  const transactionsSent: string[] = [];

  beforeAll(async () => {
    ehr = await startFhirServer({ transactions: 'non-atomic' });
    ehr.onRequest((req) => {
      const body = req.body as { resourceType?: string; type?: string } | undefined;
      if (body?.resourceType === 'Bundle' && body.type === 'transaction') transactionsSent.push(req.path);
    });
    aegle = await startAegle({
      sources: [
        {
          id: 'ehr',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          writeBack: { backoffBaseMs: 50, backoffMaxMs: 200, retryHorizonMs: 5_000 },
        },
        { id: 'ehr2', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN },
      ],
    });
    db = aegle.db;
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  async function seedPatient(id: string, cholesterol: number): Promise<fhir4.Observation & { id: string }> {
    const [, tc] = await ehr.seed(
      pceChart(id, { gender: 'male', age: 60, cholesterol, hdl: 45, systolic: 130 }),
    );
    return tc as fhir4.Observation & { id: string };
  }

  const notify = (resource: fhir4.Resource, source = 'ehr') =>
    fetch(`${aegle.url}/fhir/notify/${source}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(resource),
    }).then((r) => expect(r.status).toBe(200));

  const search = async <T extends fhir4.Resource>(query: string): Promise<T[]> =>
    ((await json<fhir4.Bundle>(fetch(`${ehr.baseUrl}/${query}`))).entry ?? []).map((e) => e.resource as T);

  const writeBacksOf = async (focusId: string) =>
    (await db.query(
      `SELECT w.outcome, w.response FROM write_back w JOIN plugin_run r ON r.id = w.run_id
       JOIN event e ON e.id = r.event_id WHERE e.focus_id = $1 ORDER BY w.created_at, w.outcome`,
      [focusId],
    )) as Array<{ outcome: string; response: { message?: string } | null }>;

  it('a Provenance that failed inside a 200 transaction-response is written before the result counts, and the source goes sequential', async () => {
    let failedOnce = false;
    ehr.failEntries((entry) => {
      if (failedOnce || entry.request?.url !== 'Provenance') return undefined;
      failedOnce = true;
      return 500;
    });
    const tc = await seedPatient('tx-a', 230);
    await notify(tc);
    await aegle.waitForIdle();
    ehr.failEntries(undefined);

    const [risk] = await search<fhir4.Observation>(`Observation?subject=Patient/tx-a&code=${PCE}`);
    expect(risk).toBeDefined();
    const provenance = await search<fhir4.Provenance>(`Provenance?target=Observation/${risk.id}`);
    expect(provenance).toHaveLength(1);
    const trail = await writeBacksOf(tc.id);
    expect(trail.map((w) => w.outcome)).toEqual(['retrying', 'created']);
    expect(trail[0].response?.message).toMatch(/Provenance: 500.*not atomic.*sequential/);

    // The next result for this source goes as sequential conditional writes, not a transaction.
    const sent = transactionsSent.length;
    const next = await seedPatient('tx-b', 250);
    await notify(next);
    await aegle.waitForIdle();
    expect(transactionsSent).toHaveLength(sent);
    const [nextRisk] = await search<fhir4.Observation>(`Observation?subject=Patient/tx-b&code=${PCE}`);
    expect(await search(`Provenance?target=Observation/${nextRisk.id}`)).toHaveLength(1);
  });

  it('a supersession the EHR refuses is a dead letter, never recorded as done', async () => {
    const tc = await seedPatient('tx-c', 210);
    await notify(tc, 'ehr2');
    await aegle.waitForIdle();
    const [earlier] = await search<fhir4.Observation>(`Observation?subject=Patient/tx-c&code=${PCE}`);
    // The EHR now refuses to touch the earlier result (an access policy without update rights on it),
    // inside the transaction and on its own.
    const forbidden = {
      status: 403,
      body: {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'forbidden', details: { text: 'Forbidden' } }],
      },
    };
    ehr.failEntries((entry) => (entry.request?.method === 'PUT' ? 403 : undefined));
    ehr.onRequest((req) =>
      req.method === 'PUT' && req.path.startsWith(`/fhir/Observation/${earlier.id}`) ? forbidden : undefined,
    );
    try {
      const [newer] = await ehr.seed(
        lab(
          'tx-c-tc2',
          'tx-c',
          '2093-3',
          'Cholesterol [Mass/volume] in Serum or Plasma',
          280,
          'mg/dL',
          daysAgo(1),
        ),
      );
      await notify(newer, 'ehr2');
      await aegle.waitForIdle();
    } finally {
      ehr.failEntries(undefined);
      ehr.onRequest(undefined);
    }
    const dead = (await db.query(
      `SELECT d.http_status FROM dead_letter d JOIN plugin_run r ON r.id = d.run_id
       WHERE r.patient_ref = 'Patient/tx-c'`,
    )) as Array<{ http_status: number }>;
    expect(dead).toEqual([{ http_status: 403 }]);
    const superseded = (await db.query(
      `SELECT count(*)::int AS n FROM write_back w JOIN plugin_run r ON r.id = w.run_id
       WHERE r.patient_ref = 'Patient/tx-c' AND w.outcome = 'superseded'`,
    )) as Array<{ n: number }>;
    expect(superseded[0].n).toBe(0);
  });
});

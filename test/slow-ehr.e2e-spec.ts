import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { RunningAegle, startAegle, TestSource } from './support/aegle-app';
import { FhirServerOptions, startFhirServer, TestFhirServer } from './support/fhir-server';
import { parseSearchRequest } from '@medplum/core';
import { pceChart } from './fixtures/patients';

jest.setTimeout(240_000);

const TOKEN = 'slow-ehr-token';
const PCE = 'http://loinc.org|79423-0';

interface Setup {
  ehr: TestFhirServer;
  aegle: RunningAegle;
  db: DataSource;
}

async function start(
  server: FhirServerOptions,
  source: Partial<TestSource> = {},
  plugins?: Parameters<typeof startAegle>[0]['plugins'],
): Promise<Setup> {
  const ehr = await startFhirServer(server);
  const aegle = await startAegle({
    sources: [{ id: 'ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN, ...source }],
    ...(plugins ? { plugins } : {}),
  });
  return { ehr, aegle, db: aegle.db };
}

/** `count` patients with everything the ASCVD model needs; returns their cholesterol results. */
async function seedPatients(
  ehr: TestFhirServer,
  prefix: string,
  count: number,
): Promise<fhir4.Observation[]> {
  const cholesterol: fhir4.Observation[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    const [, tc] = await ehr.seed(
      pceChart(id, { gender: i % 2 ? 'male' : 'female', age: 50 + (i % 20), cholesterol: 180 + i }),
    );
    cholesterol.push(tc as fhir4.Observation);
  }
  return cholesterol;
}

/** Offers the notifications at `perSecond`, as an EHR's subscription worker would. */
async function offer(aegle: RunningAegle, resources: fhir4.Resource[], perSecond: number): Promise<void> {
  for (const resource of resources) {
    const response = await fetch(`${aegle.url}/fhir/notify/ehr`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(resource),
    });
    expect(response.status).toBe(200);
    await sleep(1000 / perSecond);
  }
}

async function outcomes(db: DataSource): Promise<Record<string, number>> {
  const rows = (await db.query(
    `SELECT outcome, count(*)::int AS n FROM plugin_run GROUP BY outcome`,
  )) as Array<{
    outcome: string;
    n: number;
  }>;
  return Object.fromEntries(rows.map((r) => [r.outcome, r.n]));
}

/** Read from the server's store, not over HTTP: the test's own reads would spend the quota. */
async function risksOn(ehr: TestFhirServer): Promise<number> {
  const found = await ehr.repo.searchResources(parseSearchRequest(`Observation?code=${PCE}&_count=500`));
  return found.length;
}

/**
 * A slow EHR loses nothing: Aegle slows down with it. Requests to one EHR are bounded by an
 * adaptive cap shared by every worker, the plugin's timeout covers only its own work, and EHR
 * faults are retried; a quota is respected rather than discovered.
 */
describe('a slow or rate-limited EHR', () => {
  describe('one that answers one request at a time, after 200 ms each', () => {
    let setup: Setup;
    beforeAll(async () => {
      // A plugin timeout far shorter than a busy EHR's queue: it must cover only the plugin's own work.
      setup = await start(
        { serialDelayMs: 200 },
        { pacing: { maxInFlight: 4 } },
        { limits: { 'prognosis-ascvd-pce': { timeoutMs: 2_000 } } },
      );
    });
    afterAll(async () => {
      await setup?.aegle.close();
      await setup?.ehr.close();
    });

    it('50 events at 10/s: every result lands, no run fails, requests in flight never exceed the cap', async () => {
      const { ehr, aegle, db } = setup;
      const cholesterol = await seedPatients(ehr, 'slow', 50);
      await offer(aegle, cholesterol, 10);
      await aegle.waitForIdle(180_000);
      expect(await outcomes(db)).toEqual({ succeeded: 50 });
      expect(await risksOn(ehr)).toBe(50);
      expect(ehr.peakInFlight).toBeLessThanOrEqual(4);
      const metrics = await (await fetch(`${aegle.url}/metrics`)).text();
      expect(metrics).toMatch(/aegle_ehr_concurrency_cap\{source="ehr"\} \d/);
      expect(metrics).toMatch(/aegle_ehr_queue_wait_seconds_count\{source="ehr"\} [1-9]/);
    });
  });

  describe('one with a request quota', () => {
    const QUOTA = { requests: 40, windowMs: 2_000 };

    it('with the quota in the config: results land at the rate it allows, no request sent that it could not serve', async () => {
      const { ehr, aegle, db } = await start(
        { quota: QUOTA },
        { pacing: { requestBudget: { requests: QUOTA.requests, perSeconds: QUOTA.windowMs / 1000 } } },
      );
      try {
        const cholesterol = await seedPatients(ehr, 'quota', 12);
        const started = Date.now();
        await offer(aegle, cholesterol, 20);
        await aegle.waitForIdle(120_000);
        expect(await outcomes(db)).toEqual({ succeeded: 12 });
        expect(await risksOn(ehr)).toBe(12);
        expect(ehr.refusedByQuota).toBe(0);
        // What was served could not have been served in fewer windows than the quota allows.
        const windows = Math.ceil(ehr.servedByQuota / QUOTA.requests);
        expect(windows).toBeGreaterThan(1);
        expect(Date.now() - started).toBeGreaterThanOrEqual((windows - 1) * QUOTA.windowMs);
      } finally {
        await aegle.close();
        await ehr.close();
      }
    });

    it('without it: a 429 inside a batch is busy like a 429 on the batch, never one request per search', async () => {
      const { ehr, aegle, db } = await start({ quota: QUOTA });
      try {
        const cholesterol = await seedPatients(ehr, 'storm', 12);
        await offer(aegle, cholesterol, 20);
        await aegle.waitForIdle(120_000);
        expect(await outcomes(db)).toEqual({ succeeded: 12 });
        expect(await risksOn(ehr)).toBe(12);
        expect(ehr.refusedByQuota).toBeGreaterThan(0); // it did run into the quota
        // No input read on its own: the write-back's search for earlier results (on a retried write) is
        // the only single search.
        const inputSearches = ehr.requests.filter(
          (r) => r.method === 'GET' && /^\/fhir\/\w+[?/]/.test(r.path) && !r.path.includes('79423-0'),
        );
        expect(inputSearches.map((r) => r.path)).toEqual([]);
        // Backing off as a whole: once refused, far fewer requests than events × searches were refused.
        expect(ehr.refusedByQuota).toBeLessThan(12 * 3);
      } finally {
        await aegle.close();
        await ehr.close();
      }
    });
  });
});

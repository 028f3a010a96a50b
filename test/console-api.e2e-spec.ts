import { AuditChain, RunStory, Stats, TimelinePage } from '@aegle/store';
import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const TOKEN = 'e2e-inbound-token';
const ADMIN = 'e2e-console-admin-token';

describe('the admin console: its API and its page', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    ehr = await startFhirServer();
    aegle = await startAegle({
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      adminToken: ADMIN,
    });
  }, 30_000);

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  const api = (path: string, token = ADMIN) =>
    fetch(`${aegle.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  async function completePatient(id: string, cholesterol = 213) {
    const seeded = await ehr.seed([
      patient(id, { gender: 'female', age: 55 }),
      lab(`tc-${id}`, id, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', cholesterol, 'mg/dL'),
      lab(`hdl-${id}`, id, '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel(`bp-${id}`, id, 120, 78),
      smokingStatus(`smk-${id}`, id, ...NEVER_SMOKER),
    ]);
    const response = await fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(seeded[1]),
    });
    expect(response.status).toBe(200);
    await aegle.waitForIdle();
    await aegle.app.get(AuditChain).idle();
  }

  it('answers only to the admin token', async () => {
    for (const path of [
      '/api/console/timeline',
      '/api/console/stats',
      '/api/console/plugins',
      '/api/console/runs/7d1c6a52-0a4e-4a43-8a55-1b1e8e9b2f11',
    ]) {
      expect((await api(path, 'wrong-token')).status).toBe(401);
      expect((await fetch(`${aegle.url}${path}`)).status).toBe(401);
    }
  });

  it('feeds the timeline with a cursor that returns exactly what was committed since', async () => {
    const first = await json<TimelinePage>(api('/api/console/timeline'));
    await completePatient('feed-1');
    const next = await json<TimelinePage>(api(`/api/console/timeline?after=${first.cursor}`));
    const kinds = next.items.map((i) => `${i.kind}:${i.action}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'notification:received',
        'event:accepted',
        'plugin_run:opened',
        'plugin_run:succeeded',
        'write_back:created',
      ]),
    );
    // Newest first, all after the cursor, none of the console's own calls, and no patient named.
    const seqs = next.items.map((i) => BigInt(i.seq));
    expect([...seqs].sort((a, b) => (b > a ? 1 : -1))).toEqual(seqs);
    expect(seqs.every((s) => s > BigInt(first.cursor))).toBe(true);
    expect(kinds.some((k) => k.startsWith('admin_action'))).toBe(false);
    expect(JSON.stringify(next.items)).not.toContain('Patient/feed-1');
    expect(next.cursor).toBe(next.items[0].seq);
    const run = next.items.find((i) => i.kind === 'plugin_run' && i.action === 'succeeded')!;
    expect(run).toMatchObject({ pluginId: 'prognosis-ascvd-pce', pluginVersion: '1.0.0', mode: 'live' });

    // Paging a burst: limit 2 takes the oldest two after the cursor and says there is more.
    const paged = await json<TimelinePage>(api(`/api/console/timeline?after=${first.cursor}&limit=2`));
    expect(paged.items.map((i) => i.seq)).toEqual(next.items.slice(-2).map((i) => i.seq));
    expect(paged.more).toBe(true);
    const nothing = await json<TimelinePage>(api(`/api/console/timeline?after=${next.cursor}`));
    expect(nothing).toEqual({ items: [], cursor: next.cursor, more: false });
    // The admin calls are there when asked for; the console's own polls of patient-free views are not
    // recorded (they would bury the accesses that matter), reads that can show a patient's data are.
    await api('/api/console/stats?window=15m');
    await api('/api/console/runs/7d1c6a52-0a4e-4a43-8a55-1b1e8e9b2f11');
    const admin = await json<TimelinePage>(api(`/api/console/timeline?kinds=admin_action&limit=50`));
    const recorded = JSON.stringify(admin.items);
    expect(admin.items[0]).toMatchObject({ kind: 'admin_action' });
    expect(recorded).toContain('GET /api/console/runs/:id');
    expect(recorded).not.toContain('/api/console/timeline');
    expect(recorded).not.toContain('/api/console/stats');
    expect((await api('/api/console/timeline?after=x')).status).toBe(400);
    expect((await api('/api/console/timeline?kinds=patients')).status).toBe(400);
  });

  it("tells a run's story: inputs, outputs, the Observation written and timings", async () => {
    await completePatient('story-1');
    const [row] = await aegle.db.query(`SELECT id FROM plugin_run WHERE patient_ref = 'Patient/story-1'`);
    const story = await json<RunStory & { timings: Record<string, number | null>; inputsStored: string }>(
      api(`/api/console/runs/${row.id}`),
    );
    const bundle = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Observation?subject=Patient/story-1&code=http://loinc.org|79423-0`),
    );
    const observation = bundle.entry![0].resource as fhir4.Observation;
    expect(story.observation?.reference).toBe(`Observation/${observation.id}`);
    expect(story.run).toMatchObject({ id: row.id, outcome: 'succeeded', mode: 'live', triggeredBy: null });
    expect((story.run.inputs as Record<string, { value: number }>).totalCholesterol.value).toBe(213);
    expect((story.run.outputs as { findings: Array<{ value: number }> }).findings[0].value).toBe(
      observation.valueQuantity!.value,
    );
    expect(story.deadLetter).toBeNull();
    expect(story.inputsStored).toBe('full');
    expect(story.audit.intact).toBe(true);
    for (const key of ['queuedMs', 'runMs', 'inferenceMs', 'writeBackMs', 'totalMs'])
      expect(story.timings[key]).toBeGreaterThanOrEqual(0);
    expect(story.timings.totalMs!).toBeGreaterThanOrEqual(story.timings.runMs!);
    expect((await api('/api/console/runs/7d1c6a52-0a4e-4a43-8a55-1b1e8e9b2f11')).status).toBe(404);
    expect((await api('/api/console/runs/not-a-uuid')).status).toBe(400);
  });

  it('counts throughput, latency and outcomes per plugin in time buckets', async () => {
    const stats = await json<Stats>(api('/api/console/stats?window=15m'));
    expect(stats.bucketSeconds).toBe(15);
    expect(stats.buckets).toHaveLength(60);
    const sum = (k: 'events' | 'succeeded' | 'written') => stats.buckets.reduce((s, b) => s + b[k], 0);
    const [counts] = await aegle.db.query(
      `SELECT (SELECT count(*) FROM event)::int AS events,
              (SELECT count(*) FROM plugin_run WHERE outcome = 'succeeded')::int AS succeeded`,
    );
    expect(sum('events')).toBe(counts.events);
    expect(sum('succeeded')).toBe(counts.succeeded);
    expect(sum('written')).toBe(counts.succeeded);
    const ran = stats.buckets.find((b) => b.succeeded > 0)!;
    expect(ran.inferenceP95).toBeGreaterThan(0);
    // A result counts where it was written, which can be the bucket after its run's.
    const wrote = stats.buckets.find((b) => b.written > 0)!;
    expect(wrote.endToEndP50).toBeGreaterThan(0);
    expect(stats.plugins).toEqual([
      expect.objectContaining({ pluginId: 'prognosis-ascvd-pce', succeeded: counts.succeeded, failed: 0 }),
    ]);
    expect((await api('/api/console/stats?window=2y')).status).toBe(400);
  });

  it('lists plugins with their rollout state, provider and model card', async () => {
    const view = await json<{ plugins: Array<Record<string, unknown>> }>(api('/api/console/plugins'));
    const pce = view.plugins.find((p) => p.id === 'prognosis-ascvd-pce')!;
    expect(pce).toMatchObject({
      version: '1.0.0',
      provider: 'cpu',
      rollout: { mode: 'live' },
      kind: 'prognosis',
    });
    expect(pce.modelCard).toMatch(/^# prognosis-ascvd-pce/);
    expect(pce.modelSha256).toMatch(/^[a-f0-9]{64}$/);
  });

  it('is described in OpenAPI', async () => {
    const doc = await json<{ paths: Record<string, unknown> }>(fetch(`${aegle.url}/api/docs-json`));
    for (const path of [
      '/api/console/timeline',
      '/api/console/runs/{id}',
      '/api/console/stats',
      '/api/console/plugins',
    ])
      expect(doc.paths[path]).toBeDefined();
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/console'))).toBe(false);
  });

  it('serves the page without data or token, with cache headers and a fallback for deep links', async () => {
    const page = await fetch(`${aegle.url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1];
    const asset = await fetch(`${aegle.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(await asset.text()).not.toContain('story-1');
    const deep = await fetch(`${aegle.url}/console/runs/whatever`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    expect((await fetch(`${aegle.url}/console/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${aegle.url}/console/..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  it('is served by the api role only: a worker has no console', async () => {
    const worker = await startAegle({
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      adminToken: ADMIN,
      env: { ROLE: 'worker' },
    });
    try {
      expect((await fetch(`${worker.url}/console`)).status).toBe(404);
      expect((await fetch(`${worker.url}/api/console/timeline`)).status).toBe(404);
    } finally {
      await worker.close();
    }
  });
});

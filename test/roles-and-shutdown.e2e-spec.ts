import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AegleProcess, spawnAegle, SpawnOptions } from './support/aegle-process';
import { createTestDatabase, TEST_REDIS_URL, TestDatabase } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { QueueWatch, watchQueues } from './support/queue-watch';
import { json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

jest.setTimeout(90_000);

const TOKEN = 'roles-inbound-token';
const PCE_CODE = '79423-0';

/**
 * The real `main.ts` in child processes: roles split the work across processes that share only
 * PostgreSQL and Redis, GPU plugins' runs wait for a GPU worker, and SIGTERM drains.
 */
describe('roles, execution queues and graceful shutdown (child processes)', () => {
  let ehr: TestFhirServer;
  let database: TestDatabase;
  let watch: QueueWatch;
  let base: SpawnOptions;
  const started: AegleProcess[] = [];

  beforeAll(async () => {
    ehr = await startFhirServer();
    database = await createTestDatabase();
    const queuePrefix = `aegle-roles-${randomBytes(4).toString('hex')}`;
    watch = await watchQueues(TEST_REDIS_URL, queuePrefix);
    base = {
      databaseUrl: database.url,
      redisUrl: TEST_REDIS_URL,
      queuePrefix,
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
    };
  });

  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await watch?.obliterate();
    await watch?.close();
    await database?.drop();
    await ehr?.close();
  });

  async function spawn(options: Partial<SpawnOptions>): Promise<AegleProcess> {
    const process = await spawnAegle({ ...base, ...options });
    started.push(process);
    return process;
  }

  const notify = (url: string, body: unknown) =>
    fetch(`${url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });

  async function seedPatient(id: string): Promise<fhir4.Observation> {
    const [, cholesterol] = await ehr.seed([
      patient(id, { gender: 'female', age: 58 }),
      lab(`${id}-tc`, id, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 5.4, 'mmol/L'),
      lab(`${id}-hdl`, id, '2085-9', 'HDL Cholesterol', 52, 'mg/dL'),
      bloodPressurePanel(`${id}-bp`, id, 131, 82),
      smokingStatus(`${id}-smk`, id, ...NEVER_SMOKER),
    ]);
    return cholesterol as fhir4.Observation;
  }

  async function riskObservations(patientId: string): Promise<fhir4.Observation[]> {
    const bundle = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Observation?subject=Patient/${patientId}&code=http://loinc.org|${PCE_CODE}`),
    );
    return (bundle.entry ?? []).map((e) => e.resource as fhir4.Observation);
  }

  async function loadedModels(url: string): Promise<Array<Record<string, unknown>>> {
    const health = await json<{ info: { models: { loaded: Array<Record<string, unknown>> } } }>(
      fetch(`${url}/health`),
    );
    return health.info.models.loaded;
  }

  async function runOutcomes(): Promise<string[]> {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ outcome: string }>('SELECT outcome FROM plugin_run');
    await client.end();
    return rows.map((r) => r.outcome);
  }

  it('ROLE=api only accepts and queues; a ROLE=worker process elsewhere does the rest', async () => {
    const api = await spawn({ role: 'api' });
    expect(await watch.workers('events')).toBe(0);
    const cholesterol = await seedPatient('roles-1');
    expect((await notify(api.url, cholesterol)).status).toBe(200);
    // Queued right after the answer (the EHR waits for PostgreSQL, not Redis).
    await watch.until(
      async () => (await watch.queues.events.getWaitingCount()) === 1,
      'the event on the events queue',
    );
    const ready = await json<{ info: Record<string, unknown> }>(fetch(`${api.url}/health/ready`));
    expect(Object.keys(ready.info).sort()).toEqual(['database', 'lifecycle', 'redis']);
    // It checked the plugins against their models but holds none: models live where they run.
    expect(await loadedModels(api.url)).toEqual([]);

    const worker = await spawn({ role: 'worker' });
    await watch.waitForIdle(30_000);
    expect(await riskObservations('roles-1')).toHaveLength(1);
    expect(await loadedModels(worker.url)).toContainEqual({
      key: 'prognosis-ascvd-pce@1.0.0',
      provider: 'cpu',
      modelBytes: expect.any(Number),
      rssAtLoadBytes: expect.any(Number),
    });
    // A worker serves health and metrics but no intake.
    expect((await notify(worker.url, cholesterol)).status).toBe(404);
    await worker.stop();
  });

  it('two ROLE=worker processes share one stream: every event is processed once, by one of them', async () => {
    const api = await spawn({ role: 'api' });
    const workers = [await spawn({ role: 'worker' }), await spawn({ role: 'worker' })];
    await watch.until(async () => (await watch.workers('runs')) >= 2, 'both workers on the runs queue');
    const ids = Array.from({ length: 40 }, (_, i) => `pair-${i}`);
    const focus = await Promise.all(ids.map(seedPatient));
    const answers = await Promise.all(focus.map((f) => notify(api.url, f)));
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 200));
    await watch.waitForIdle(60_000);

    // Each worker's own count of the runs it finished and the results it wrote: both took part,
    // and together they did each event's work once.
    const counted = async (worker: AegleProcess, metric: string, outcome: string) => {
      const text = await (await fetch(`${worker.url}/metrics`)).text();
      return [...text.matchAll(new RegExp(`^${metric}\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)$`, 'gm'))]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    };
    const runs = await Promise.all(workers.map((w) => counted(w, 'aegle_plugin_runs_total', 'succeeded')));
    const written = await Promise.all(
      workers.map((w) => counted(w, 'aegle_writeback_attempts_total', 'created')),
    );
    expect(runs.every((n) => n > 0)).toBe(true);
    expect(runs[0] + runs[1]).toBe(ids.length);
    expect(written[0] + written[1]).toBe(ids.length);
    for (const id of ids) expect(await riskObservations(id)).toHaveLength(1);
    const db = new Client({ connectionString: database.url });
    await db.connect();
    const { rows } = await db.query<{ runs: string; writes: string }>(
      `SELECT count(DISTINCT r.id) AS runs, count(w.id) AS writes
       FROM event e JOIN plugin_run r ON r.event_id = e.id
       LEFT JOIN write_back w ON w.run_id = r.id AND w.outcome = 'created'
       WHERE e.focus_id = ANY($1)`,
      [focus.map((f) => f.id)],
    );
    await db.end();
    expect(rows[0]).toEqual({ runs: String(ids.length), writes: String(ids.length) });
    await Promise.all([api, ...workers].map((p) => p.stop()));
  });

  it('puts GPU plugins’ runs on their own queue, which only GPU workers take', async () => {
    const pluginDir = mkdtempSync(join(tmpdir(), 'aegle-gpu-plugin-'));
    cpSync('plugins/prognosis-ascvd-pce', join(pluginDir, 'prognosis-ascvd-pce'), { recursive: true });
    const manifestPath = join(pluginDir, 'prognosis-ascvd-pce', 'plugin.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { model: { execution?: string } };
    manifest.model.execution = 'prefer-gpu'; // falls back to CPU on a machine without CUDA
    writeFileSync(manifestPath, JSON.stringify(manifest));

    const cpuWorker = await spawn({
      role: 'all',
      pluginDirs: [pluginDir],
      env: { AEGLE_WORKER_EXECUTION: 'cpu' },
    });
    const cholesterol = await seedPatient('gpu-1');
    const cpuRunsBefore = await watch.queues.runs.getJobCounts();
    expect((await notify(cpuWorker.url, cholesterol)).status).toBe(200);
    // Routed, then left waiting: no worker takes the GPU queue yet.
    await watch.until(
      async () => (await watch.queues.gpuRuns.getWaitingCount()) === 1,
      'the run on the GPU queue',
    );
    expect(await watch.queues.runs.getJobCounts()).toEqual(cpuRunsBefore);
    expect(await watch.workers('gpuRuns')).toBe(0);
    expect(await riskObservations('gpu-1')).toHaveLength(0);

    const gpuWorker = await spawn({
      role: 'worker',
      pluginDirs: [pluginDir],
      env: { AEGLE_WORKER_EXECUTION: 'gpu' },
    });
    await watch.waitForIdle(30_000);
    expect(await riskObservations('gpu-1')).toHaveLength(1);
    await Promise.all([cpuWorker.stop(), gpuWorker.stop()]);
  });

  it('on SIGTERM refuses new notifications with 503, finishes the job in flight and exits 0', async () => {
    const aegle = await spawn({ role: 'all' });
    const cholesterol = await seedPatient('drain-1');

    // Hold the run in the middle of gathering its inputs from the EHR.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    let tracedHeader: string | undefined;
    ehr.onRequest(async (req) => {
      // The inputs come in one batch when the EHR offers it, else one search each.
      const inputBatch =
        req.method === 'POST' &&
        (req.body as fhir4.Bundle | undefined)?.type === 'batch' &&
        JSON.stringify(req.body).includes('drain-1');
      const inputSearch =
        req.method === 'GET' && req.path.includes('/Observation?') && req.path.includes('drain-1');
      if (inputBatch || inputSearch) {
        tracedHeader = req.headers.traceparent as string | undefined;
        holding();
        await released;
      }
    });
    const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
    const accepted = await fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}`, traceparent },
      body: JSON.stringify(cholesterol),
    });
    expect(accepted.status).toBe(200);
    await held;
    // The EHR call carries the notification's trace id, as a new span.
    expect(tracedHeader?.split('-')[1]).toBe(traceparent.split('-')[1]);
    expect(tracedHeader).not.toBe(traceparent);

    aegle.child.kill('SIGTERM');
    await aegle.waitForLine(/draining: intake closed/);
    const refused = await notify(aegle.url, cholesterol);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    const outcome = await json<fhir4.OperationOutcome>(refused);
    expect(outcome).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'transient' }] });
    expect((await fetch(`${aegle.url}/health/ready`)).status).toBe(503);
    expect((await fetch(`${aegle.url}/health`)).status).toBe(200);

    release();
    ehr.onRequest(undefined);
    expect(await aegle.exited).toEqual({ code: 0, signal: null });
    expect(aegle.lines.some((l) => /shut down cleanly/.test(l))).toBe(true);
    // The run in flight finished; whatever it queued next is waiting, not lost.
    expect(await runOutcomes()).toContain('succeeded');

    const next = await spawn({ role: 'worker' });
    await watch.waitForIdle(30_000);
    expect(await riskObservations('drain-1')).toHaveLength(1);
    await next.stop();
  });
});

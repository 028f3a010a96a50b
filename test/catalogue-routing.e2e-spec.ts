import { ModelHost } from '@aegle/runs';
import { PluginRegistry } from '@aegle/catalogue';
import { RunningAegle, startAegle, TEST_REDIS_URL } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { pluginVariant, removeFolder } from './support/plugin-fixtures';
import { QueueWatch, watchQueues } from './support/queue-watch';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const TOKEN = 'catalogue-inbound-token';
const GPU_ONLY = 'prognosis-gpu-only';

/**
 * Routing reads the catalogue, which is the same in every process; only the model host depends on
 * what this process can run. A CPU-only worker (no CUDA here) must still route a `require-gpu`
 * plugin's events, to the GPU queue, without opening its model.
 */
describe('the catalogue routes plugins this process cannot run', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let watch: QueueWatch;
  let pluginDir: string;

  beforeAll(async () => {
    const cpu = await pluginVariant(undefined, 'cpu', (m) => {
      m.id = 'prognosis-cpu';
    });
    pluginDir = cpu.replace(/\/cpu$/, '');
    await pluginVariant(pluginDir, 'gpu-only', (m) => {
      m.id = GPU_ONLY;
      m.model.execution = 'require-gpu';
    });
    ehr = await startFhirServer();
    aegle = await startAegle({
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      pluginDirs: [pluginDir],
      env: { ROLE: 'all', AEGLE_WORKER_EXECUTION: 'cpu' },
    });
    watch = await watchQueues(TEST_REDIS_URL, aegle.config.queuePrefix);
  }, 60_000);

  afterAll(async () => {
    await watch?.close();
    await aegle?.close();
    await ehr?.close();
    if (pluginDir) await removeFolder(pluginDir);
  });

  it('lists the require-gpu plugin in the catalogue, with no session opened for it here', () => {
    const registry = aegle.app.get(PluginRegistry);
    expect(registry.rejections()).toEqual([]);
    const gpuOnly = registry.all().find((p) => p.manifest.id === GPU_ONLY);
    expect(gpuOnly).toBeDefined();
    const host = aegle.app.get(ModelHost, { strict: false });
    expect(host.hosts(gpuOnly!)).toBe(false);
    expect(host.providerOf(gpuOnly!.key)).toBeUndefined();
    const cpu = registry.all().find((p) => p.manifest.id === 'prognosis-cpu')!;
    expect(host.hosts(cpu)).toBe(true);
    expect(host.providerOf(cpu.key)).toBe('cpu');
  });

  it('routes its events and queues its run on the GPU queue, not as "no plugin trigger matched"', async () => {
    const [, cholesterol] = await ehr.seed([
      patient('gpu-route-1', { gender: 'female', age: 58 }),
      lab(
        'gpu-route-1-tc',
        'gpu-route-1',
        '2093-3',
        'Cholesterol [Mass/volume] in Serum or Plasma',
        213,
        'mg/dL',
      ),
      lab('gpu-route-1-hdl', 'gpu-route-1', '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel('gpu-route-1-bp', 'gpu-route-1', 120, 78),
      smokingStatus('gpu-route-1-smk', 'gpu-route-1', ...NEVER_SMOKER),
    ]);
    const accepted = await fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(cholesterol),
    });
    expect(accepted.status).toBe(200);

    // Routed: the CPU plugin's run is taken here, the GPU plugin's waits for a GPU worker.
    const eventOf = async () =>
      (
        await aegle.db.query<Array<{ id: string; status: string; reason: string | null }>>(
          `SELECT id, status, reason FROM event WHERE focus_id = $1`,
          [cholesterol.id],
        )
      )[0];
    await watch.until(
      async () =>
        (await eventOf())?.status === 'routed' && (await watch.queues.gpuRuns.getWaitingCount()) === 1,
      'the event routed and the require-gpu run on the GPU queue',
    );
    const event = await eventOf();
    expect(event).toMatchObject({ status: 'routed', reason: null });
    const runs = await aegle.db.query<Array<{ id: string; plugin_id: string; outcome: string }>>(
      `SELECT id, plugin_id, outcome FROM plugin_run WHERE event_id = $1 ORDER BY plugin_id`,
      [event.id],
    );
    expect(runs.map((r) => r.plugin_id)).toEqual(['prognosis-cpu', GPU_ONLY]);
    const gpuRun = runs.find((r) => r.plugin_id === GPU_ONLY)!;
    expect(gpuRun.outcome).toBe('pending');
    expect((await watch.queues.gpuRuns.getJob(gpuRun.id))?.data).toMatchObject({ runId: gpuRun.id });

    // The router opened both runs and routed the event in one statement: one link of the chain, the
    // runs (by id) then the event, consecutive and at one time.
    const linked = await aegle.db.query<Array<{ seq: string; at: Date; record_id: string; action: string }>>(
      `SELECT seq, at, record_id, action FROM audit_log
       WHERE record_id = ANY($1) AND action IN ('opened', 'routed') ORDER BY seq`,
      [[event.id, ...runs.map((r) => r.id)]],
    );
    expect(linked.map((entry) => [entry.record_id, entry.action])).toEqual([
      ...runs
        .map((r) => r.id)
        .sort()
        .map((id) => [id, 'opened']),
      [event.id, 'routed'],
    ]);
    expect(linked.map((entry) => Number(entry.seq) - Number(linked[0].seq))).toEqual([0, 1, 2]);
    expect(new Set(linked.map((entry) => entry.at.getTime())).size).toBe(1);
  });
});

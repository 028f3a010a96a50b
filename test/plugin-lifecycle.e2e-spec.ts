import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginManifestInput } from '@aegle/plugin-sdk';
import { PluginRegistry } from '@aegle/catalogue';
import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';
import { pluginVariant, removeFolder } from './support/plugin-fixtures';

const TOKEN = 'lifecycle-inbound-token';
const ADMIN = 'lifecycle-admin-token';
const PCE = 'prognosis-ascvd-pce';
const PART_2 = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: '42CFRPart2' };

/** A PCE variant with its own id and result code, so each plugin's Observations can be told apart. */
const variant =
  (id: string, extra: (m: PluginManifestInput) => void = () => undefined) =>
  (m: PluginManifestInput) => {
    m.id = id;
    m.outputs[0].code = { system: 'https://example.org/fhir/CodeSystem/aegle-tests', code: id };
    extra(m);
  };
const fromCode = (m: PluginManifestInput) => {
  m.inputs[8] = { name: 'africanAmerican', source: { from: 'plugin' } };
};

// Real services on a shared, busy machine: each step waits on queues, never on sleeps.
jest.setTimeout(30_000);

describe('plugin lifecycle: versions, shadow, canary, chaining, isolation, data scope, reload', () => {
  let root: string;
  let pluginDir: string;
  let ehr: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aegle-lifecycle-'));
    pluginDir = join(root, 'plugins');
    await mkdir(pluginDir);
    await pluginVariant(pluginDir, 'pce-1.0.0');
    await pluginVariant(pluginDir, 'pce-1.1.0', (m) => {
      m.version = '1.1.0';
    });
    await pluginVariant(
      pluginDir,
      'followup',
      variant('prognosis-ascvd-followup', (m) => {
        m.triggers = [{ after: PCE }, { after: 'prognosis-loop' }];
      }),
    );
    // A cycle (followup → loop → followup): each plugin version still runs once per event.
    await pluginVariant(
      pluginDir,
      'loop',
      variant('prognosis-loop', (m) => {
        m.triggers = [{ after: 'prognosis-ascvd-followup' }];
      }),
    );
    await pluginVariant(pluginDir, 'hangs', variant('prognosis-hangs', fromCode), {
      'index.ts': `import { definePlugin } from '@aegle/plugin-sdk';\nexport default definePlugin({ extract: () => new Promise(() => undefined) });\n`,
    });
    await pluginVariant(pluginDir, 'throws', variant('prognosis-throws', fromCode), {
      'index.ts': `import { definePlugin } from '@aegle/plugin-sdk';\nexport default definePlugin({ extract() { throw new Error('vendor bug'); } });\n`,
    });
    await pluginVariant(
      pluginDir,
      'broken',
      variant('prognosis-broken', (m) => {
        m.model.sha256 = 'f'.repeat(64);
      }),
    );
    // An npm package, resolved from the config file's folder.
    const pkg = join(root, 'node_modules', '@acme', 'aegle-plugin-demo');
    await mkdir(join(root, 'node_modules', '@acme'), { recursive: true });
    await pluginVariant(
      join(root, 'node_modules', '@acme'),
      'aegle-plugin-demo',
      variant('prognosis-acme-demo'),
    );
    await writeFile(
      join(pkg, 'package.json'),
      JSON.stringify({ name: '@acme/aegle-plugin-demo', version: '1.0.0' }),
    );

    ehr = await startFhirServer();
    aegle = await startAegle({
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      pluginDirs: [pluginDir],
      configPath: join(root, 'aegle.config.yaml'),
      adminToken: ADMIN,
      plugins: {
        packages: ['@acme/aegle-plugin-demo', '@acme/not-installed'],
        rollout: { [PCE]: { live: '1.0.0', shadow: ['1.1.0'] } },
        limits: { 'prognosis-hangs': { timeoutMs: 300, maxConcurrency: 1 } },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
    if (root) await removeFolder(root);
  });

  const notify = (resource: fhir4.Resource) =>
    fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(resource),
    });

  async function seedPatient(id: string): Promise<fhir4.Observation> {
    const [, cholesterol] = await ehr.seed([
      patient(id, { gender: 'female', age: 55 }),
      lab(`${id}-tc`, id, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 213, 'mg/dL'),
      lab(`${id}-hdl`, id, '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel(`${id}-bp`, id, 120, 78),
      smokingStatus(`${id}-smk`, id, ...NEVER_SMOKER),
    ]);
    return cholesterol as fhir4.Observation;
  }

  const runsOf = (patientId: string) =>
    aegle.db.query(
      `SELECT r.*, (SELECT count(*)::int FROM write_back w WHERE w.run_id = r.id) AS writes
         FROM plugin_run r WHERE patient_ref = $1 ORDER BY plugin_id, plugin_version`,
      [`Patient/${patientId}`],
    );

  async function observations(patientId: string, code: string): Promise<fhir4.Observation[]> {
    const response = await fetch(`${ehr.baseUrl}/Observation?subject=Patient/${patientId}&code=${code}`);
    return ((await response.json()) as fhir4.Bundle).entry?.map((e) => e.resource as fhir4.Observation) ?? [];
  }

  it('starts with the broken plugin rejected by name and reason, and every other version loaded', () => {
    const registry = aegle.app.get(PluginRegistry);
    expect(
      registry
        .all()
        .map((p) => p.key)
        .sort(),
    ).toEqual([
      'prognosis-acme-demo@1.0.0',
      'prognosis-ascvd-followup@1.0.0',
      'prognosis-ascvd-pce@1.0.0',
      'prognosis-ascvd-pce@1.1.0',
      'prognosis-hangs@1.0.0',
      'prognosis-loop@1.0.0',
      'prognosis-throws@1.0.0',
    ]);
    expect(registry.rejections()).toEqual([
      {
        dir: '@acme/not-installed',
        problems: ['npm package @acme/not-installed is not installed or has no plugin.json at its root'],
      },
      {
        dir: join(pluginDir, 'broken'),
        problems: [expect.stringMatching(/^model\.sha256 is f{64} but model\.onnx hashes to [a-f0-9]{64}: /)],
      },
    ]);
  });

  it('reports on /health each model the process holds, where it runs and its memory', async () => {
    const health = (await (await fetch(`${aegle.url}/health`)).json()) as {
      info: {
        models: {
          processRssBytes: number;
          loaded: Array<{ key: string; provider: string; modelBytes: number; rssAtLoadBytes: number }>;
        };
      };
    };
    const { processRssBytes, loaded } = health.info.models;
    const keys = aegle.app
      .get(PluginRegistry)
      .all()
      .map((p) => p.key);
    expect(loaded.map((m) => m.key).sort()).toEqual([...keys].sort());
    for (const model of loaded) {
      expect(model.provider).toBe('cpu');
      expect(model.modelBytes).toBeGreaterThan(0);
      expect(model.rssAtLoadBytes).toBeGreaterThanOrEqual(0);
    }
    expect(processRssBytes).toBeGreaterThan(Math.max(...loaded.map((m) => m.modelBytes)));
  });

  it('shows operators the registry on the admin API, and only with the admin token', async () => {
    expect((await fetch(`${aegle.url}/admin/plugins`)).status).toBe(401);
    const response = await fetch(`${aegle.url}/admin/plugins`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      loaded: Array<{ id: string; version: string; timeoutMs: number }>;
      rejected: unknown[];
      rollout: unknown;
    };
    expect(body.loaded).toContainEqual(
      expect.objectContaining({ id: 'prognosis-hangs', version: '1.0.0', timeoutMs: 300 }),
    );
    expect(body.rejected).toHaveLength(2);
    expect(body.rollout).toEqual({ [PCE]: { live: '1.0.0', shadow: ['1.1.0'] } });
  });

  it('runs live, shadow and chained versions; isolates a plugin that hangs and one that throws', async () => {
    const cholesterol = await seedPatient('life-1');
    expect((await notify(cholesterol)).status).toBe(200);
    await aegle.waitForIdle();

    const runs = await runsOf('life-1');
    const by = (id: string, version = '1.0.0') =>
      runs.find(
        (r: { plugin_id: string; plugin_version: string }) =>
          r.plugin_id === id && r.plugin_version === version,
      );
    expect(by(PCE)).toMatchObject({ mode: 'live', outcome: 'succeeded', writes: 1 });
    expect(by(PCE, '1.1.0')).toMatchObject({
      mode: 'shadow',
      outcome: 'succeeded',
      reason: 'shadow mode: audited, not written to the EHR',
      writes: 0,
    });
    expect(by(PCE, '1.1.0').outputs.findings[0].value).toBe(by(PCE).outputs.findings[0].value);
    expect(by('prognosis-ascvd-followup')).toMatchObject({
      outcome: 'succeeded',
      triggered_by: by(PCE).id,
      writes: 1,
    });
    expect(by('prognosis-hangs')).toMatchObject({
      outcome: 'failed',
      reason: 'the plugin timed out after 300 ms',
      writes: 0,
    });
    expect(by('prognosis-throws')).toMatchObject({
      outcome: 'failed',
      reason: 'the plugin threw: vendor bug',
      writes: 0,
    });
    expect(by('prognosis-acme-demo')).toMatchObject({ mode: 'live', outcome: 'succeeded', writes: 1 });
    expect(by('prognosis-loop')).toMatchObject({
      outcome: 'succeeded',
      triggered_by: by('prognosis-ascvd-followup').id,
    });
    expect(runs).toHaveLength(7);

    // One PCE result in the EHR: the shadow version's never reached it.
    expect(await observations('life-1', 'http://loinc.org|79423-0')).toHaveLength(1);
    expect(
      await observations(
        'life-1',
        'https://example.org/fhir/CodeSystem/aegle-tests|prognosis-ascvd-followup',
      ),
    ).toHaveLength(1);
  });

  it('holds a plugin to its concurrency limit while the others run freely', async () => {
    const ids = ['life-5', 'life-6', 'life-7'];
    const foci = await Promise.all(ids.map((id) => seedPatient(id)));
    await Promise.all(foci.map((focus) => notify(focus)));
    await aegle.waitForIdle();
    const runs = (await Promise.all(ids.map((id) => runsOf(id)))).flat();
    const hangs = runs.filter((r: { plugin_id: string }) => r.plugin_id === 'prognosis-hangs');
    expect(hangs.map((r: { outcome: string }) => r.outcome)).toEqual(['failed', 'failed', 'failed']);
    // One at a time: each timed-out run ended at least a timeout after the previous one.
    const ends = hangs
      .map((r: { finished_at: Date }) => r.finished_at.getTime())
      .sort((a: number, b: number) => a - b);
    for (let i = 1; i < ends.length; i += 1) expect(ends[i] - ends[i - 1]).toBeGreaterThanOrEqual(250);
    const pce = runs.filter(
      (r: { plugin_id: string; mode: string }) => r.plugin_id === PCE && r.mode === 'live',
    );
    expect(pce.map((r: { outcome: string }) => r.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('never gives an event whose focus carries a 42 CFR Part 2 label to plugins not allowed it', async () => {
    const cholesterol = await seedPatient('life-2');
    const labelled = { ...cholesterol, meta: { ...cholesterol.meta, security: [PART_2] } };
    expect((await notify(labelled)).status).toBe(200);
    await aegle.waitForIdle();
    const runs = await runsOf('life-2');
    const pce = runs.find(
      (r: { plugin_id: string; mode: string }) => r.plugin_id === PCE && r.mode === 'live',
    );
    expect(pce).toMatchObject({
      outcome: 'skipped',
      reason:
        'restricted data: the focus Observation/life-2-tc carries restricted security label http://terminology.hl7.org/CodeSystem/v3-ActCode|42CFRPart2, which the plugin is not allowed',
      inputs: {},
      writes: 0,
    });
    expect(runs.filter((r: { outcome: string }) => r.outcome === 'succeeded')).toEqual([]);
    expect(await observations('life-2', 'http://loinc.org|79423-0')).toHaveLength(0);
  });

  it('puts a new version live without a restart: reload, then the next event runs it', async () => {
    const registry = aegle.app.get(PluginRegistry);
    await pluginVariant(pluginDir, 'pce-1.2.0', (m) => {
      m.version = '1.2.0';
    });
    const reloading = registry.reload({
      ...registry.current(),
      rollout: { [PCE]: { live: '1.2.0', canary: { version: '1.1.0', percent: 0 }, shadow: ['1.0.0'] } },
    });
    // Aegle keeps serving while the new version loads.
    expect((await fetch(`${aegle.url}/health`)).status).toBe(200);
    await reloading;
    expect(registry.get(PCE, '1.2.0')).toBeDefined();

    const cholesterol = await seedPatient('life-3');
    await notify(cholesterol);
    await aegle.waitForIdle();
    const pce = (await runsOf('life-3')).filter((r: { plugin_id: string }) => r.plugin_id === PCE);
    expect(
      pce.map((r: { plugin_version: string; mode: string; outcome: string; writes: number }) => [
        r.plugin_version,
        r.mode,
        r.outcome,
        r.writes,
      ]),
    ).toEqual([
      ['1.0.0', 'shadow', 'succeeded', 0],
      ['1.2.0', 'live', 'succeeded', 1],
    ]);
  });

  it('sends every patient to a 100 % canary, written to the EHR and audited as canary', async () => {
    const registry = aegle.app.get(PluginRegistry);
    await registry.reload({
      ...registry.current(),
      rollout: { [PCE]: { live: '1.2.0', canary: { version: '1.1.0', percent: 100 }, shadow: [] } },
    });
    const cholesterol = await seedPatient('life-4');
    await notify(cholesterol);
    await aegle.waitForIdle();
    const pce = (await runsOf('life-4')).filter((r: { plugin_id: string }) => r.plugin_id === PCE);
    expect(
      pce.map((r: { plugin_version: string; mode: string; writes: number }) => [
        r.plugin_version,
        r.mode,
        r.writes,
      ]),
    ).toEqual([['1.1.0', 'canary', 1]]);
    const [written] = await observations('life-4', 'http://loinc.org|79423-0');
    expect(written.device?.display).toMatch(/ 1\.1\.0$/);
  });
});

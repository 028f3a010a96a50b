import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { lab, patient } from './fixtures/patients';
import { RunningAegle, startAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';

jest.setTimeout(300_000);

const ROOT = resolve(__dirname, '..');
const run = promisify(execFile);
const TOKEN = 'standalone-plugin-token';
const ADMIN = 'standalone-admin-token';

/** A command and its exit code and output; npm installs offline-first from the local cache. */
async function sh(cwd: string, command: string, args: string[]): Promise<{ code: number; output: string }> {
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_loglevel: 'error' };
  try {
    const { stdout, stderr } = await run(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const npmInstall = ['install', '--prefer-offline', '--no-audit', '--no-fund'];

/**
 * A vendor's plugin outside Aegle's repository: `aegle plugin new --standalone` in a temporary
 * folder, the SDK installed from its package (npm pack of libs/plugin-sdk, as the registry would
 * serve it), its own scripts; then Aegle loads it from a plugins folder and as an npm package.
 */
describe('a standalone plugin, outside the repository', () => {
  const id = `prognosis-vendor${randomBytes(3).toString('hex')}`;
  let root: string;
  let dir: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'aegle-standalone-'));
    const packed = await sh(ROOT, 'npm', [
      'pack',
      '--workspace',
      '@aegle/plugin-sdk',
      '--pack-destination',
      root,
    ]);
    expect(packed).toMatchObject({ code: 0 });
    const tarball = readdirSync(root).find((f) => f.endsWith('.tgz'))!;

    const created = await sh(ROOT, 'npx', [
      'aegle',
      'plugin',
      'new',
      id,
      '--standalone',
      '--dir',
      join(root, 'work'),
    ]);
    expect(created).toMatchObject({ code: 0 });
    dir = join(root, 'work', id);
    expect(created.output).toContain(`cd ${dir} && npm install && npm test`);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    expect(manifest.devDependencies['@aegle/plugin-sdk']).toBe('^0.1.0');
    expect(await sh(dir, 'npm', [...npmInstall, '--save-dev', join(root, tarball)])).toMatchObject({
      code: 0,
    });
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('validates and passes its golden cases with the SDK alone', async () => {
    const validated = await sh(dir, 'npm', ['run', 'validate']);
    expect(validated.output).toContain(`✓ ${id}@0.1.0 is valid`);
    expect(validated.code).toBe(0);
    const tested = await sh(dir, 'npm', ['test']);
    expect(tested.output).toContain('3 passed, 0 failed');
    expect(tested.code).toBe(0);
    const plugin = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as { $schema: string };
    expect(readFileSync(join(dir, plugin.$schema), 'utf8')).toContain('"dataScope"');
  });

  it("lints with the SDK's rule, which refuses the engine's entry", async () => {
    const code = `import { definePlugin } from '@aegle/plugin-sdk';\n\nexport default definePlugin({ interpret: ({ findings }) => findings });\n`;
    writeFileSync(join(dir, 'index.ts'), code);
    expect(await sh(dir, 'npm', ['run', 'lint'])).toMatchObject({ code: 0 });
    expect(await sh(dir, 'npm', ['run', 'typecheck'])).toMatchObject({ code: 0 });

    writeFileSync(
      join(dir, 'index.ts'),
      `import { readManifest } from '@aegle/plugin-sdk/engine';\n${code}export { readManifest };\n`,
    );
    const refused = await sh(dir, 'npm', ['run', 'lint']);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("'@aegle/plugin-sdk/engine' import is restricted");
    writeFileSync(join(dir, 'index.ts'), code);
  });

  describe('in Aegle', () => {
    let ehr: TestFhirServer;
    let aegle: RunningAegle;
    const written: fhir4.Observation[] = [];

    beforeAll(async () => {
      // Version 0.2.0 is published as an npm package and installed beside Aegle's config file;
      // 0.1.0 stays a folder under plugins.dirs.
      const deploy = join(root, 'deploy');
      mkdirSync(deploy);
      writeFileSync(join(deploy, 'package.json'), JSON.stringify({ name: 'deploy', private: true }));
      const release = join(root, 'release');
      rmSync(release, { recursive: true, force: true });
      await sh(root, 'cp', ['-r', dir, release]);
      rmSync(join(release, 'node_modules'), { recursive: true, force: true });
      for (const file of ['plugin.json', 'package.json']) {
        const json = JSON.parse(readFileSync(join(release, file), 'utf8')) as { version: string };
        writeFileSync(join(release, file), JSON.stringify({ ...json, version: '0.2.0' }, null, 2));
      }
      expect(await sh(release, 'npm', ['pack', '--pack-destination', deploy])).toMatchObject({ code: 0 });
      const installed = await sh(deploy, 'npm', [...npmInstall, `./${id}-0.2.0.tgz`]);
      expect(installed).toMatchObject({ code: 0 });

      ehr = await startFhirServer();
      ehr.onWrite((resource) => {
        if (resource.resourceType === 'Observation') written.push(resource as fhir4.Observation);
      });
      aegle = await startAegle({
        sources: [{ id: 'vendor-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
        pluginDirs: [join(root, 'work')],
        configPath: join(deploy, 'aegle.config.yaml'),
        adminToken: ADMIN,
        plugins: { packages: [id], rollout: { [id]: { live: '0.2.0', shadow: ['0.1.0'] } } },
      });
    }, 120_000);

    afterAll(async () => {
      await aegle?.close();
      await ehr?.close();
    });

    it('loads it from plugins.dirs and from node_modules', async () => {
      const response = await fetch(`${aegle.url}/admin/plugins`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      const body = (await response.json()) as {
        loaded: Array<{ id: string; version: string; dir: string }>;
        rejected: unknown[];
      };
      expect(body.rejected).toEqual([]);
      expect(body.loaded.filter((p) => p.id === id)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ version: '0.1.0', dir: dir }),
          expect.objectContaining({ version: '0.2.0', dir: join(root, 'deploy', 'node_modules', id) }),
        ]),
      );
    });

    it('runs it on a notification and writes its result to the EHR', async () => {
      const [, hba1c] = await ehr.seed([
        patient('vendor-1', { gender: 'female', age: 60 }),
        lab('vendor-1-a1c', 'vendor-1', '4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood', 7, '%'),
      ]);
      const notified = await fetch(`${aegle.url}/fhir/notify/vendor-ehr`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(hba1c),
      });
      expect(notified.status).toBe(200);
      await aegle.waitForIdle();

      const runs = (await aegle.db.query(
        `SELECT plugin_version, mode, outcome FROM plugin_run WHERE plugin_id = $1 ORDER BY plugin_version`,
        [id],
      )) as Array<{ plugin_version: string; mode: string; outcome: string }>;
      expect(runs).toEqual([
        { plugin_version: '0.1.0', mode: 'shadow', outcome: 'succeeded' },
        { plugin_version: '0.2.0', mode: 'live', outcome: 'succeeded' },
      ]);
      // sigmoid(-6 + 0.04·60 + 0.5·7) = 47.5 %, the scaffold's example model.
      const results = written.filter((o) =>
        o.code.coding?.some((c) => c.system === `https://example.org/fhir/CodeSystem/${id}`),
      );
      expect(results.map((o) => o.valueQuantity?.value)).toEqual([47.5]);
    });
  });
});

// The production image's layout without Docker: the build output, the plugins and production
// dependencies only (`npm ci --omit=dev`), started as the image starts it, against real PostgreSQL,
// Redis and a FHIR server. One notification goes in; its Observation must come out on the EHR.
// Run: npm run smoke:production   (CI runs it; PostgreSQL and Redis as for `npm test`).
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';
import { startFhirServerProcess } from './support/fhir-server-process';

const ROOT = resolve(__dirname, '..');
const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKEN = 'production-smoke-token';
const PCE_CODE = '79423-0';
const started = Date.now();

const step = (message: string) =>
  process.stdout.write(`[smoke ${((Date.now() - started) / 1000).toFixed(1)} s] ${message}\n`);

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): void {
  execFileSync(command, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Polls until `check` resolves true; throws with `what` after `timeoutMs`. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

async function main(): Promise<void> {
  const app = mkdtempSync(join(tmpdir(), 'aegle-production-'));
  const database = `aegle_smoke_${randomBytes(6).toString('hex')}`;
  const cleanups: Array<() => Promise<unknown> | unknown> = [
    () => rmSync(app, { recursive: true, force: true }),
  ];
  let aegle: ChildProcess | undefined;
  const output: string[] = [];
  try {
    if (!process.argv.includes('--no-build')) {
      step('npm run build');
      run('npm', ['run', 'build', '--silent'], ROOT);
    }
    step(
      `production layout in ${app}: dist, plugins, package*.json, the SDK's manifest, node_modules less dev dependencies`,
    );
    // The plugin SDK workspace as the image has it: its manifest and schemas (the engine runs dist/).
    const sdkFiles = ['package.json', 'plugin.schema.json', 'golden.schema.json'].map((f) =>
      join('libs/plugin-sdk', f),
    );
    for (const path of ['dist', 'plugins', 'package.json', 'package-lock.json', '.npmrc', ...sdkFiles]) {
      cpSync(join(ROOT, path), join(app, path), { recursive: true });
    }
    // As the Dockerfile does it (npm ci, then npm prune --omit=dev); hard links make the copy cheap.
    try {
      run('cp', ['-al', join(ROOT, 'node_modules'), join(app, 'node_modules')], ROOT);
      run('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], app);
    } catch {
      rmSync(join(app, 'node_modules'), { recursive: true, force: true });
      run(
        'npm',
        ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
        app,
        {
          ...process.env,
          ONNXRUNTIME_NODE_INSTALL: 'skip',
        },
      );
    }

    step('PostgreSQL database, FHIR server');
    const admin = new Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    cleanups.push(async () => {
      const client = new Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await client.end();
    });
    const databaseUrl = new URL(POSTGRES_URL);
    databaseUrl.pathname = `/${database}`;
    const ehr = await startFhirServerProcess({ validate: false });
    cleanups.push(() => ehr.close());
    const resources = [
      patient('smoke-1', { gender: 'female', age: 55 }),
      lab('smoke-tc', 'smoke-1', '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 213, 'mg/dL'),
      lab('smoke-hdl', 'smoke-1', '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel('smoke-bp', 'smoke-1', 120, 78),
      smokingStatus('smoke-smk', 'smoke-1', ...NEVER_SMOKER),
    ];
    const stored: fhir4.Resource[] = [];
    for (const resource of resources) {
      const response = await fetch(`${ehr.baseUrl}/${resource.resourceType}/${resource.id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(resource),
      });
      if (!response.ok) throw new Error(`seeding ${resource.resourceType}: HTTP ${response.status}`);
      stored.push((await response.json()) as fhir4.Resource);
    }
    const result = new Promise<fhir4.Observation>((done) =>
      ehr.onWrite('Observation', PCE_CODE, (o) => done(o as fhir4.Observation)),
    );

    const config = join(app, 'aegle.config.yaml');
    writeFileSync(
      config,
      stringify({
        sources: [
          {
            id: 'smoke-ehr',
            fhirBaseUrl: ehr.baseUrl,
            auth: { type: 'none' },
            inbound: { bearerToken: TOKEN },
          },
        ],
        plugins: { dirs: [join(app, 'plugins')] },
      }),
    );
    step('node --v8-pool-size=0 dist/apps/engine/src/main.js (as the image runs it)');
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    aegle = spawn(process.execPath, ['--v8-pool-size=0', 'dist/apps/engine/src/main.js'], {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'production',
        PORT: String(port),
        AEGLE_CONFIG: config,
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL,
        AEGLE_QUEUE_PREFIX: `aegle-smoke-${randomBytes(4).toString('hex')}`,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [aegle.stdout!, aegle.stderr!])
      stream.on('data', (c: Buffer) => output.push(c.toString()));
    const exited = once(aegle, 'exit');
    const url = `http://127.0.0.1:${port}`;
    await Promise.race([
      until('GET /health/ready answers 200', 60_000, async () => (await fetch(`${url}/health/ready`)).ok),
      exited.then(([code]) => {
        throw new Error(`Aegle exited (code ${String(code)}) before it was ready`);
      }),
    ]);
    step('ready; one notification in');
    const cholesterol = stored[1];
    const accepted = await fetch(`${url}/fhir/notify/smoke-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(cholesterol),
    });
    if (accepted.status !== 200) throw new Error(`the notification got HTTP ${accepted.status}`);
    let timer: NodeJS.Timeout | undefined;
    const observation = await Promise.race([
      result,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no result Observation on the EHR within 60 s')), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    if (
      observation.subject?.reference !== 'Patient/smoke-1' ||
      typeof observation.valueQuantity?.value !== 'number'
    ) {
      throw new Error(`unexpected result: ${JSON.stringify(observation.valueQuantity)}`);
    }
    step(`result on the EHR: ASCVD risk ${observation.valueQuantity.value} %; SIGTERM`);
    aegle.kill('SIGTERM');
    const [code] = await exited;
    if (code !== 0) throw new Error(`Aegle exited with code ${String(code)} on SIGTERM`);
    step('drained and exited 0: the production build works');
  } catch (error) {
    process.stderr.write(
      `\nproduction smoke FAILED: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    if (output.length) process.stderr.write(`--- Aegle's output ---\n${output.join('').slice(-6000)}\n`);
    process.exitCode = 1;
  } finally {
    if (aegle && aegle.exitCode === null && aegle.signalCode === null) aegle.kill('SIGKILL');
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    step('cleaned up');
  }
}

void main();

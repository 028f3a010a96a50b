/**
 * `npm run demo`: Aegle's first five minutes. Starts a sandbox EHR (a FHIR R4 server seeded with
 * synthetic patients), starts Aegle on an embedded PostgreSQL (data under ./.aegle-demo), creates
 * the EHR's rest-hook Subscription to Aegle, plays a stream of results into the EHR, and prints
 * each result Aegle writes back as it lands in the chart. With Orthanc and the PneumoniaMNIST data
 * set at hand, some patients also get a chest X-ray study stored in the PACS and notified as an
 * ImagingStudy. Ctrl-C stops everything it started.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { Queue } from 'bullmq';
import { stringify } from 'yaml';
import { assertRedisReachable } from '../apps/engine/src/bootstrap/redis-check';
import { QUEUES, redisConnection } from '../libs/jobs/src';
import { startFhirServer, TestFhirServer } from '../test/support/fhir-server';
import { RestHookDelivery } from '../sandbox/rest-hook';
import { nextResult, RESULT_STREAMS } from '../sandbox/result-stream';
import { chartTransaction, generatePatients, seededRandom } from '../sandbox/synthetic-patients';
import { prepareChestXrays } from './chest-xrays';

const ROOT = resolve(__dirname, '..');
const SOURCE = 'demo-ehr';
const INBOUND_TOKEN = 'change-me-demo-token';
const ADMIN_TOKEN = 'demo-admin-token';
const RISK_CODE = '79423-0';
const PNEUMONIA_CODE = 'https://fhir.aegle.dev/CodeSystem/aegle-results|pneumonia-probability-cxr';

const options = new Command()
  .name('npm run demo')
  .description('Aegle with a sandbox EHR, synthetic patients and a stream of lab results')
  .option('--patients <n>', 'synthetic patients in the sandbox EHR', (v) => Number(v), 36)
  .option('--seed <n>', 'seed of the patient generator (same seed, same patients)', (v) => Number(v), 7)
  .option('--interval <ms>', 'time between two results played into the EHR', (v) => Number(v), 400)
  .option('--port <port>', "Aegle's HTTP port (0: any free port)", (v) => Number(v), 3000)
  .option('--data-dir <dir>', "where Aegle's embedded PostgreSQL keeps its data", '.aegle-demo')
  .parse()
  .opts<{ patients: number; seed: number; interval: number; port: number; dataDir: string }>();

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dataDir = resolve(ROOT, options.dataDir);
/** One demo's queues per data directory: two demos (or the demo test beside a demo) never share jobs. */
const queuePrefix = `aegle-demo-${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`;
const say = (line: string) => process.stdout.write(`${line}\n`);
const pseudonym = (patientId: string) =>
  `P-${createHash('sha256').update(patientId).digest('hex').slice(0, 6).toUpperCase()}`;

let ehr: TestFhirServer | undefined;
let hooks: RestHookDelivery | undefined;
let listener: Server | undefined;
let aegle: ChildProcess | undefined;
let stopping = false;
let timer: NodeJS.Timeout | undefined;

async function main(): Promise<void> {
  await assertRedisReachable(redisUrl);
  mkdirSync(dataDir, { recursive: true });
  await clearDemoQueues();

  // 1. The sandbox EHR, with its patients' charts.
  ehr = await startFhirServer();
  const patients = generatePatients(options.patients, options.seed, new Date(), 'demo');
  for (const patient of patients) await ehr.seed(chartTransaction(patient) as never);
  say(`Sandbox EHR (FHIR R4) at ${ehr.baseUrl} with ${patients.length} synthetic patients`);

  // Chest X-rays in a real PACS (Orthanc), when it and the data set are here.
  const xrays = await prepareChestXrays(ROOT, say);

  // 2. Aegle, as `npm start` runs it, logs to a file so the results stay readable here.
  const aegleUrl = await startAegle(ehr.baseUrl);
  say(`Aegle at ${aegleUrl}  (logs: ${join(options.dataDir, 'aegle.log')}, metrics: ${aegleUrl}/metrics)`);
  say(`Admin console at ${aegleUrl}/console  (admin token: ${process.env.AEGLE_ADMIN_TOKEN ?? ADMIN_TOKEN})`);

  // 3. Subscriptions: the EHR notifies Aegle of lab results; the demo listens for Aegle's results.
  hooks = new RestHookDelivery(ehr, (d) => {
    if (d.error) say(`  ! ${d.subscription} could not deliver ${d.resource}: ${d.error}`);
  });
  const resultsUrl = await listenForResults(aegleUrl);
  await create(
    ehr,
    subscription(
      'Lab results to Aegle',
      'Observation?category=laboratory',
      `${aegleUrl}/fhir/notify/${SOURCE}`,
      [`Authorization: Bearer ${INBOUND_TOKEN}`],
    ),
  );
  await create(
    ehr,
    subscription('AI results to the demo', `Observation?code=http://loinc.org|${RISK_CODE}`, resultsUrl, []),
  );
  if (xrays) {
    await create(
      ehr,
      subscription(
        'Imaging studies to Aegle',
        'ImagingStudy?status=available',
        `${aegleUrl}/fhir/notify/${SOURCE}`,
        [`Authorization: Bearer ${INBOUND_TOKEN}`],
      ),
    );
    await create(
      ehr,
      subscription('AI imaging results to the demo', `Observation?code=${PNEUMONIA_CODE}`, resultsUrl, []),
    );
  }
  say(`Subscription (rest-hook) → ${aegleUrl}/fhir/notify/${SOURCE}\n`);
  say(`Playing results into the EHR every ${options.interval} ms; Ctrl-C to stop.\n`);

  // 4. The stream: each patient gets a new result, in random order.
  const rng = seededRandom(options.seed + 1);
  const order = [...patients].sort(() => rng() - 0.5);
  let played = 0;
  await new Promise<void>((done) => {
    const playNext = async () => {
      const patient = order[played];
      if (!patient || stopping) return done();
      const study = await xrays?.next(patient.profile.id);
      if (study) {
        await create(ehr!, study.resource);
        say(`→ ${pseudonym(patient.profile.id)}  chest X-ray   ${study.description}`);
      }
      const result = nextResult(RESULT_STREAMS, patient.profile, new Date(), rng);
      if (result) {
        await create(ehr!, result);
        const quantity = (result as fhir4.Observation).valueQuantity;
        say(`→ ${pseudonym(patient.profile.id)}  lab result  ${quantity?.value} ${quantity?.unit}`);
      }
      played++;
      timer = setTimeout(() => void playNext(), options.interval);
    };
    void playNext();
  });
  if (!stopping) {
    say(`\nPlayed ${played} results. Patients without a result were skipped by the plugin (missing data or`);
    say(`outside its validated range): the reasons are in the audit trail. Ctrl-C to stop.`);
  }
}

function subscription(
  reason: string,
  criteria: string,
  endpoint: string,
  header: string[],
): fhir4.Subscription {
  return {
    resourceType: 'Subscription',
    status: 'active',
    reason,
    criteria,
    channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json', header },
  };
}

async function create(server: TestFhirServer, resource: fhir4.Resource): Promise<fhir4.Resource> {
  const response = await fetch(`${server.baseUrl}/${resource.resourceType}`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(resource),
  });
  if (!response.ok)
    throw new Error(`the sandbox refused a ${resource.resourceType}: HTTP ${response.status}`);
  return (await response.json()) as fhir4.Resource;
}

/** The demo's own rest-hook endpoint: Aegle's results, printed as they land in the EHR. */
async function listenForResults(aegleUrl: string): Promise<string> {
  listener = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200).end();
      try {
        const observation = JSON.parse(Buffer.concat(chunks).toString('utf8')) as fhir4.Observation;
        const patientId = observation.subject?.reference?.split('/')[1] ?? '?';
        const value = observation.valueQuantity?.value;
        const band = observation.interpretation?.[0]?.text ?? '';
        const what = observation.code.coding?.some((c) => `${c.system}|${c.code}` === PNEUMONIA_CODE)
          ? 'P(pneumonia) on chest X-ray'
          : '10-year ASCVD risk';
        say(
          `  ✓ ${pseudonym(patientId)}  ${what} ${value}%  ${band}\n` +
            `    ${aegleUrl}/console#/results/Observation/${observation.id}`,
        );
      } catch {
        say('  ! an unreadable notification reached the demo listener');
      }
    });
  });
  await new Promise<void>((ready) => listener!.listen(0, '127.0.0.1', ready));
  return `http://127.0.0.1:${(listener.address() as AddressInfo).port}/results`;
}

/** The demo's own config (the repo's aegle.config.yaml has no EHR): the sandbox EHR as source. */
function writeDemoConfig(fhirUrl: string): string {
  const path = join(dataDir, 'aegle.config.yaml');
  const source = {
    id: SOURCE,
    fhirBaseUrl: fhirUrl,
    auth: { type: 'none' },
    inbound: { bearerToken: INBOUND_TOKEN },
  };
  writeFileSync(path, stringify({ sources: [source], plugins: { dirs: [join(ROOT, 'plugins')] } }));
  return path;
}

function startAegle(fhirUrl: string): Promise<string> {
  const log = createWriteStream(join(dataDir, 'aegle.log'), { flags: 'a' });
  aegle = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/engine/src/main.ts'], {
    cwd: ROOT,
    // Its own process group: Ctrl-C reaches the demo, which stops Aegle in order.
    detached: true,
    env: {
      ...withoutDatabaseUrl(process.env),
      REDIS_URL: redisUrl,
      PORT: String(options.port),
      ROLE: 'all',
      AEGLE_DATA_DIR: dataDir,
      AEGLE_QUEUE_PREFIX: queuePrefix,
      AEGLE_CONFIG: writeDemoConfig(fhirUrl),
      AEGLE_ADMIN_TOKEN: process.env.AEGLE_ADMIN_TOKEN ?? ADMIN_TOKEN,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  aegle.stdout!.pipe(log);
  return new Promise((resolveUrl, reject) => {
    let buffer = '';
    aegle!.stderr!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      buffer += chunk.toString('utf8');
      const match = /is listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(buffer);
      if (match) resolveUrl(match[1]);
    });
    aegle!.once('exit', (code) => {
      reject(new Error(`Aegle exited (code ${code}) before it was ready:\n${buffer.trim()}`));
      if (!stopping)
        void shutdown(
          1,
          `Aegle stopped unexpectedly (exit code ${code}); see ${join(options.dataDir, 'aegle.log')}`,
        );
    });
  });
}

/** The demo always uses the embedded PostgreSQL, whatever the shell has set. */
function withoutDatabaseUrl(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.DATABASE_URL;
  return copy;
}

/** Queued jobs of an earlier demo run refer to a sandbox that no longer exists. */
async function clearDemoQueues(): Promise<void> {
  await Promise.all(
    Object.values(QUEUES).map(async (name) => {
      const queue = new Queue(name, { connection: redisConnection(redisUrl), prefix: queuePrefix });
      await queue.obliterate({ force: true }).finally(() => queue.close());
    }),
  );
}

async function shutdown(code: number, message?: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearTimeout(timer);
  if (message) say(`\n${message}`);
  say('\nStopping: Aegle drains and stops its embedded PostgreSQL…');
  await hooks?.stop();
  if (aegle && aegle.exitCode === null && aegle.signalCode === null) {
    const exited = new Promise((done) => aegle!.once('exit', done));
    aegle.kill('SIGTERM');
    await exited;
  }
  await new Promise((done) => (listener ? listener.close(done) : done(undefined)));
  await ehr?.close();
  say(`Stopped. Nothing is left running; the demo database stays in ${options.dataDir} for next time.`);
  process.exit(code);
}

process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

main().catch((error: unknown) => void shutdown(1, `The demo failed: ${(error as Error).message}`));

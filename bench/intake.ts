/**
 * `npm run bench:intake`: how fast the intake durably accepts full-resource notifications, next to
 * a bare endpoint on the same server stack that does nothing, measured in the same run.
 *
 * The server (bench/intake-server.ts, compiled first as `npm start` builds Aegle) runs Aegle's api
 * role in BENCH_HTTP_PROCESSES processes sharing one port, as `AEGLE_HTTP_PROCESSES` runs it (the
 * workers that route events are other processes in a deployment), and this process loads it: at full speed with autocannon, and at
 * 1,000/s evenly paced (bench/paced-load.ts: autocannon's own rate option sends bursts). Each
 * phase starts on a quiet machine, runs BENCH_ROUNDS times (default 3) and the median is printed,
 * with the server's CPU time per answered request. Every request carries a new resource version,
 * so each one is a real insert (no duplicates), and every 2xx is checked against the rows in
 * PostgreSQL afterwards.
 *
 * BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the server process (`--cpu-prof`, which
 * NODE_OPTIONS refuses) into that directory when it stops; open it in Chrome DevTools or
 * speedscope. With BENCH_HTTP_PROCESSES > 1 each HTTP process writes its own.
 */
import autocannon from 'autocannon';
import { ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, TEST_REDIS_URL } from '../test/support/aegle-app';
import { watchQueues } from '../test/support/queue-watch';
import { pacedLoad, PacedLoadResult } from './paced-load';
import { hostCpuMicros, processCpuMicros } from './proc-cpu';

const TOKEN = 'bench-inbound-token';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const FIXED_RATE = 1000;
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;
/**
 * One, as `AEGLE_HTTP_PROCESSES` defaults: on this 2-core machine a second process shares the cores
 * with PostgreSQL and the load, halves each process's group commits, and waits on the other's
 * commits for the audit chain head, which raised the paced p99 (README, intake speed).
 */
const HTTP_PROCESSES = process.env.BENCH_HTTP_PROCESSES ?? '1';

interface Phase {
  ok: number;
  rps: number;
  /** Server CPU time per answered request, µs. */
  cpuPerRequest: number;
  /** CPU time of the bench database's PostgreSQL backends per answered request, µs. */
  pgCpuPerRequest: number;
  /** PostgreSQL commits in the bench database per answered request (group commit shares them). */
  commitsPerRequest: number;
  /** Share of the machine's CPU time that was busy (every process, the bench's and others'). */
  hostBusy: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

let counter = 0;
/** A full-resource rest-hook notification, a new resource version each time (about 600 bytes). */
function notification(): string {
  counter++;
  return JSON.stringify({
    resourceType: 'Observation',
    id: `bench-${process.pid}-${counter}`,
    meta: { versionId: '1', lastUpdated: new Date().toISOString() },
    status: 'final',
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' },
        ],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: 'Patient/bench-patient' },
    effectiveDateTime: '2026-01-01T10:00:00Z',
    valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  });
}

/** The server's CPU time so far, µs. */
async function serverCpu(server: ChildProcess): Promise<number> {
  server.send('cpu');
  for (;;) {
    const [message] = (await once(server, 'message')) as [{ cpuMicros?: number }];
    if (message.cpuMicros !== undefined) return message.cpuMicros;
  }
}

/** Transactions committed so far in the bench database. */
async function postgresCommits(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(rows[0].n);
}

/** CPU time so far (µs) of each backend serving the bench database (the app's pool), by pid. */
async function postgresCpu(db: Client): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  return new Map(rows.map(({ pid }) => [pid, processCpuMicros(pid)]));
}

/** CPU the backends used between two readings: a backend that closed in between is left out. */
function postgresCpuSince(before: Map<number, number>, after: Map<number, number>): number {
  return [...after].reduce((sum, [pid, cpu]) => sum + cpu - (before.get(pid) ?? 0), 0);
}

const HEADERS = { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` };

/** How a phase loads the server: closed-loop at full speed, evenly paced, or autocannon's bursts. */
type Load = 'max' | 'paced' | 'bursts';

type LoadResult = Omit<PacedLoadResult, 'max'>;

async function drive(url: string, load: Load): Promise<LoadResult> {
  if (load === 'paced') {
    return pacedLoad({
      url,
      rate: FIXED_RATE,
      durationSeconds: DURATION,
      headers: HEADERS,
      body: notification,
    });
  }
  const result = await autocannon({
    url,
    method: 'POST',
    connections: load === 'bursts' ? 32 : CONNECTIONS,
    duration: DURATION,
    ...(load === 'bursts' ? { overallRate: FIXED_RATE } : {}),
    headers: HEADERS,
    requests: [{ setupRequest: (request) => ({ ...request, body: notification() }) }],
  });
  return {
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    rps: result['2xx'] / (result.duration || DURATION),
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits (at most 15 s) until the machine is quiet, so that a phase does not measure the previous
 * one's aftermath (PostgreSQL autovacuuming the rows just inserted, the server's garbage).
 */
async function settle(): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const before = hostCpuMicros();
    await sleep(500);
    const after = hostCpuMicros();
    if ((after.busy - before.busy) / (after.total - before.total) < 0.1) return;
  }
}

async function run(server: ChildProcess, db: Client, url: string, load: Load): Promise<Phase> {
  await settle();
  const pgBefore = await postgresCpu(db);
  const commitsBefore = await postgresCommits(db);
  const hostBefore = hostCpuMicros();
  const cpuBefore = await serverCpu(server);
  const result = await drive(url, load);
  const cpu = (await serverCpu(server)) - cpuBefore;
  const hostAfter = hostCpuMicros();
  const pgCpu = postgresCpuSince(pgBefore, await postgresCpu(db));
  const commits = (await postgresCommits(db)) - commitsBefore;
  const answered = result.ok + result.non2xx;
  return {
    ...result,
    cpuPerRequest: answered ? cpu / answered : 0,
    pgCpuPerRequest: answered ? pgCpu / answered : 0,
    commitsPerRequest: answered ? commits / answered : 0,
    hostBusy: (hostAfter.busy - hostBefore.busy) / (hostAfter.total - hostBefore.total),
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function summarise(phases: Phase[]): Phase {
  return {
    ok: phases.reduce((s, p) => s + p.ok, 0),
    rps: median(phases.map((p) => p.rps)),
    cpuPerRequest: median(phases.map((p) => p.cpuPerRequest)),
    pgCpuPerRequest: median(phases.map((p) => p.pgCpuPerRequest)),
    commitsPerRequest: median(phases.map((p) => p.commitsPerRequest)),
    hostBusy: median(phases.map((p) => p.hostBusy)),
    p50: median(phases.map((p) => p.p50)),
    p99: median(phases.map((p) => p.p99)),
    non2xx: phases.reduce((s, p) => s + p.non2xx, 0),
    errors: phases.reduce((s, p) => s + p.errors, 0),
  };
}

async function main(): Promise<void> {
  const database = await createTestDatabase();
  let server: ChildProcess | undefined;
  const queuePrefix = `aegle-bench-${process.pid}`;
  try {
    // Compiled by the npm script, and run as `npm start` runs Aegle: plain JavaScript, no loader,
    // V8's background pool sized to the cores.
    server = fork(join(__dirname, '../dist/bench/bench/intake-server.js'), [], {
      execArgv: [
        '--v8-pool-size=0',
        ...(CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : []),
      ],
      env: {
        ...process.env,
        BENCH_DATABASE_URL: database.url,
        BENCH_QUEUE_PREFIX: queuePrefix,
        BENCH_HTTP_PROCESSES: HTTP_PROCESSES,
      },
    });
    const [message] = (await once(server, 'message')) as [{ port: number }];
    const base = `http://127.0.0.1:${message.port}`;
    const intakeUrl = `${base}/fhir/notify/bench`;
    const bareUrl = `${base}/fhir/bare/bench`;

    const db = new Client({ connectionString: database.url });
    await db.connect();
    const go = (url: string, load: Load) => run(server!, db, url, load);
    // Warm-up: JIT, pools, caches.
    await go(bareUrl, 'paced');
    await go(intakeUrl, 'paced');
    const phases = [
      'bareMax',
      'intakeMax',
      'barePaced',
      'intakePaced',
      'bareBursts',
      'intakeBursts',
    ] as const;
    const results = Object.fromEntries(phases.map((phase) => [phase, [] as Phase[]])) as Record<
      (typeof phases)[number],
      Phase[]
    >;
    const before = Number((await db.query('SELECT count(*) FROM event')).rows[0].count);
    for (let round = 0; round < ROUNDS; round++) {
      results.barePaced.push(await go(bareUrl, 'paced'));
      results.intakePaced.push(await go(intakeUrl, 'paced'));
      results.bareMax.push(await go(bareUrl, 'max'));
      results.intakeMax.push(await go(intakeUrl, 'max'));
      results.bareBursts.push(await go(bareUrl, 'bursts'));
      results.intakeBursts.push(await go(intakeUrl, 'bursts'));
    }
    const intakeOk = [...results.intakeMax, ...results.intakePaced, ...results.intakeBursts].reduce(
      (s, p) => s + p.ok,
      0,
    );
    const stored = Number((await db.query('SELECT count(*) FROM event')).rows[0].count) - before;
    await db.end();

    const bareMax = summarise(results.bareMax);
    const intakeMax = summarise(results.intakeMax);
    const barePaced = summarise(results.barePaced);
    const intakePaced = summarise(results.intakePaced);
    const bareBursts = summarise(results.bareBursts);
    const intakeBursts = summarise(results.intakeBursts);
    const row = (name: string, p: Phase) =>
      `${name.padEnd(38)} ${p.rps.toFixed(0).padStart(8)}/s  p50 ${String(p.p50).padStart(4)} ms  p99 ${String(p.p99).padStart(4)} ms  ` +
      `server CPU ${p.cpuPerRequest.toFixed(0).padStart(4)} µs/req  PostgreSQL ${p.pgCpuPerRequest.toFixed(0).padStart(4)} µs/req ` +
      `(${p.commitsPerRequest.toFixed(2)} commits/req)  ` +
      `host busy ${(p.hostBusy * 100).toFixed(0).padStart(3)}%  non-2xx ${p.non2xx}  errors ${p.errors}`;
    const lines = [
      `intake benchmark: ${ROUNDS} round(s) of ${DURATION}s per phase, medians; max rate: autocannon, ${CONNECTIONS} connections; ` +
        `${FIXED_RATE}/s: evenly paced (open loop, latency from each request's due time; bench/paced-load.ts)`,
      `server: Aegle role ${process.env.BENCH_ROLE ?? 'api'} (intake + admin API; routing and plugin runs are worker processes), ` +
        `Fastify, ${HTTP_PROCESSES} HTTP process(es) (BENCH_HTTP_PROCESSES; server CPU sums them all); ` +
        `load from another process (this one) on the same machine, ${os.availableParallelism()} cores`,
      row('bare endpoint, max rate', bareMax),
      row('intake (full-resource), max rate', intakeMax),
      `  ratio intake/bare throughput: ${(intakeMax.rps / bareMax.rps).toFixed(2)}; server CPU per request: ${(intakeMax.cpuPerRequest / bareMax.cpuPerRequest).toFixed(2)}`,
      row(`bare endpoint, ${FIXED_RATE}/s paced`, barePaced),
      row(`intake (full-resource), ${FIXED_RATE}/s paced`, intakePaced),
      `  ratio intake/bare p99 at ${FIXED_RATE}/s: ${(intakePaced.p99 / Math.max(barePaced.p99, 1)).toFixed(2)}`,
      ...(intakePaced.rps < FIXED_RATE * 0.95 || barePaced.rps < FIXED_RATE * 0.95
        ? [
            `  note: the ${FIXED_RATE}/s target was not reached (bare ${barePaced.rps.toFixed(0)}/s, intake ${intakePaced.rps.toFixed(0)}/s): ` +
              'the machine is saturated, so these latencies are not latencies at the target rate',
          ]
        : []),
      `for comparison, autocannon's own ${FIXED_RATE}/s (each of 32 connections sends its second's share back to back, then waits; ` +
        'p99 weighted by latency):',
      row('bare endpoint, autocannon bursts', bareBursts),
      row('intake (full-resource), bursts', intakeBursts),
      `durably stored events: ${stored} for ${intakeOk} intake 2xx answers → ${stored >= intakeOk ? 'every 2xx is a row' : 'MISSING ROWS'}`,
      `floor: ≥ 2000/s accepted → ${intakeMax.rps >= 2000 ? 'met' : 'NOT met'}; p99 < 50 ms at ${FIXED_RATE}/s → ${intakePaced.p99 < 50 ? 'met' : 'NOT met'}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    if (server && server.exitCode === null) {
      server.send('stop');
      await once(server, 'exit');
    }
    // No worker takes the queued events in the api role: remove them with the database.
    const queues = await watchQueues(process.env.BENCH_REDIS_URL ?? TEST_REDIS_URL, queuePrefix);
    await queues.obliterate();
    await queues.close();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

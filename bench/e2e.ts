/**
 * `npm run bench:e2e`: synthetic patients' notifications through the whole loop — intake over
 * HTTP (a ROLE=api process) → Redis queues → ROLE=worker processes (router, PCE plugin run with its
 * FHIR reads, ONNX) → write-back to a FHIR server over HTTP → audit in PostgreSQL — with 1 and then
 * 2 worker processes. Prints events/s and end-to-end latency (notification sent → Observation
 * stored in the EHR), next to the FHIR server's own raw create rate measured in the same run: the
 * ceiling, since every event costs several FHIR requests, one of them a two-resource transaction.
 *
 * The FHIR server (test/support/fhir-server.ts, validating writes against R4 unless --no-validate)
 * runs in a process of its own, so the driver does not compete with it for an event loop; Redis is
 * a private redis-server, so its CPU and its command count are Aegle's alone.
 *
 * What each event costs, over the throughput run and over the paced run: CPU of the FHIR server,
 * the api, the worker(s), Aegle's PostgreSQL backends and Redis (from /proc); SQL statements (each a
 * round trip, counted by the processes' `aegle_db_statements_total`); FHIR requests and body bytes
 * to and from the EHR (counted by the server); Redis commands (INFO commandstats). The workers' CPU
 * of the throughput run is split by pipeline stage from V8 CPU profiles (bench/cpu-stages.ts).
 * Last, the EHR client's HTTP transport alone, beside fetch and node:http (bench/http-clients.ts).
 *
 *   npm run bench:e2e -- --events 600 --rate 100 --latency-seconds 5
 *   npm run bench:e2e -- --workers 1 --cpu-prof /tmp/aegle-prof   # keep the workers' profiles
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { Client } from 'pg';
import { AegleProcess, spawnAegle } from '../test/support/aegle-process';
import Redis from 'ioredis';
import { createTestDatabase } from '../test/support/aegle-app';
import type { Traffic } from '../test/support/fhir-server';
import { FhirServerProcess, startFhirServerProcess } from '../test/support/fhir-server-process';
import { watchQueues } from '../test/support/queue-watch';
import { startRedisProcess } from '../test/support/redis-process';
import {
  chartTransaction,
  cholesterolResult,
  generatePatients,
  PatientProfile,
} from '../sandbox/synthetic-patients';
import { CATEGORIES, stageSamples, topFrames } from './cpu-stages';
import { httpClientCost } from './http-clients';
import { processCpuMicros } from './proc-cpu';
import { startStackFloor } from './stack-floor';

const TOKEN = 'bench-inbound-token';
const RISK_CODE = '79423-0';

const options = new Command()
  .option('--events <n>', 'events in the throughput run (per worker configuration)', (v) => Number(v), 600)
  .option('--rate <n>', 'events/s offered in the latency run', (v) => Number(v), 100)
  .option('--latency-seconds <n>', 'length of the latency run', (v) => Number(v), 5)
  .option('--workers <list>', 'worker process counts to run', (v) => v.split(',').map(Number), [1, 2])
  .option('--concurrency <n>', 'notifications in flight in the throughput run', (v) => Number(v), 32)
  .option('--no-validate', 'the FHIR server stores writes without validating them against R4')
  .option(
    '--reconcile-interval-ms <n>',
    "the processes' AEGLE_RECONCILE_INTERVAL_MS (how often unfinished work is offered to the queues again)",
  )
  .option('--cpu-prof <dir>', "keep the workers' V8 CPU profiles of the throughput run in this folder")
  .option('--no-stages', 'no CPU profiles of the workers (and so no split of their CPU by stage)')
  .option('--no-floor', 'skip the stack floor (the same journey built from the same parts without Aegle)')
  .option('--top <n>', 'heaviest functions of the first worker profile to list', (v) => Number(v), 15)
  .option(
    '--http-requests <n>',
    'requests per client and body in the HTTP-client-alone measurement (0: none)',
    (v) => Number(v),
    200,
  )
  .parse()
  .opts<{
    events: number;
    rate: number;
    latencySeconds: number;
    workers: number[];
    concurrency: number;
    validate: boolean;
    reconcileIntervalMs?: string;
    cpuProf?: string;
    stages: boolean;
    floor: boolean;
    top: number;
    httpRequests: number;
  }>();

/**
 * PCE can compute a risk for this patient (so every event yields exactly one Observation): inside
 * its validated ranges with a margin, as a value reported in mmol/L comes back a little off.
 */
function eligible(p: PatientProfile): boolean {
  return (
    p.age >= 40 &&
    p.age <= 79 &&
    p.hdl !== undefined &&
    p.smoker !== 'unknown' &&
    p.totalCholesterol >= 132 &&
    p.totalCholesterol <= 318
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface PhaseResult {
  events: number;
  seconds: number;
  latencies: number[];
  focusIds: string[];
}

const ms = (v: number) => v.toFixed(0).padStart(6);

async function main(): Promise<void> {
  const profileDir = !options.stages
    ? undefined
    : options.cpuProf
      ? resolve(options.cpuProf)
      : mkdtempSync(join(tmpdir(), 'aegle-bench-prof-'));
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const reconcile: Record<string, string> = options.reconcileIntervalMs
    ? { AEGLE_RECONCILE_INTERVAL_MS: options.reconcileIntervalMs }
    : {};
  const ehr = await startFhirServerProcess({ validate: options.validate });
  const redis = await startRedisProcess();
  const redisClient = new Redis(redis.url);
  const database = await createTestDatabase();
  const prefix = `aegle-bench-${randomBytes(4).toString('hex')}`;
  const watch = await watchQueues(redis.url, prefix);
  const db = new Client({ connectionString: database.url });
  const processes: AegleProcess[] = [];
  try {
    const needed = Math.max(options.events, options.rate * options.latencySeconds);
    const patients = generatePatients(Math.ceil(needed * 1.6), 42, new Date(), 'bench')
      .filter((p) => eligible(p.profile))
      .slice(0, needed);
    await inParallel(patients, 8, (p) => fhirPost(ehr, '', chartTransaction(p)));
    say(
      `FHIR server (Medplum in-memory over HTTP, own process, ${options.validate ? 'validating R4' : 'no validation'}) seeded with ${patients.length} patients`,
    );

    // The ceiling: the FHIR server's own create rate, same client concurrency, same machine.
    const ceiling = await rawCreateRate(
      ehr,
      patients.map((p) => p.profile),
      options.concurrency,
    );
    say(`FHIR server raw create rate: ${ceiling.toFixed(0)} creates/s (${options.concurrency} in flight)`);

    // Results landing in the EHR: the end of each event's journey.
    const sentAt = new Map<string, number>();
    let landed: (focusId: string, at: number) => void = () => undefined;
    ehr.onWrite('Observation', RISK_CODE, (resource) => {
      const at = performance.now();
      for (const ref of (resource as fhir4.Observation).derivedFrom ?? []) {
        const id = /^Observation\/([^/]+)/.exec(ref.reference ?? '')?.[1];
        if (id && sentAt.has(id)) return landed(id, at);
      }
    });

    const api = await spawnAegle({
      databaseUrl: database.url,
      redisUrl: redis.url,
      queuePrefix: prefix,
      role: 'api',
      sources: [{ id: 'bench', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      env: { LOG_LEVEL: 'warn', ...reconcile },
    });
    processes.push(api);
    await db.connect(); // the api process has migrated the database by now

    /** Where notifications go: Aegle's api, or the stack floor's. */
    let intakeUrl = api.url;
    const notify = (resource: fhir4.Resource) =>
      fetch(`${intakeUrl}/fhir/notify/bench`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(resource),
      }).then(async (r) => {
        await r.body?.cancel();
        if (r.status !== 200) throw new Error(`intake answered ${r.status}`);
      });

    /** New cholesterol results (new focus resources), stored in the EHR before the clock starts. */
    const freshResults = async (count: number) => {
      const results: fhir4.Resource[] = [];
      const batch = patients
        .slice(0, count)
        .map((p) => cholesterolResult(p.profile, new Date().toISOString()));
      for (let i = 0; i < batch.length; i += 200) {
        const response = await fhirPost<fhir4.Bundle>(ehr, '', {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: batch.slice(i, i + 200).map((resource) => ({
            resource,
            request: { method: 'POST', url: 'Observation' },
          })),
        });
        results.push(...(response.entry ?? []).map((e) => e.resource!));
      }
      return results;
    };

    const runPhase = async (
      results: fhir4.Resource[],
      send: (each: (r: fhir4.Resource) => Promise<void>) => Promise<void>,
    ): Promise<PhaseResult> => {
      const latencies: number[] = [];
      let remaining = results.length;
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve, reject) => {
        landed = (id, at) => {
          latencies.push(at - sentAt.get(id)!);
          sentAt.delete(id);
          if (--remaining === 0) resolve();
        };
        // A run that ends without a result (skipped, failed) would otherwise stall the bench.
        timer = setTimeout(
          () => reject(new Error(`${remaining} of ${results.length} results never reached the EHR`)),
          120_000 + results.length * 200,
        );
      }).finally(() => clearTimeout(timer));
      const started = performance.now();
      await send(async (r) => {
        sentAt.set(r.id!, performance.now());
        await notify(r);
      });
      await done;
      return {
        events: results.length,
        seconds: (performance.now() - started) / 1000,
        latencies,
        focusIds: results.map((r) => r.id!),
      };
    };

    /** Connections, JIT, the model's Device: 40 events before anything is measured. */
    const warmUp = async () => {
      const warm = await freshResults(40);
      await runPhase(warm, async (each) => {
        await Promise.all(warm.map(each));
      });
    };
    const meterOf = (processes: MeteredProcess[]) =>
      new CostMeter(db, new URL(database.url).pathname.slice(1), ehr, redisClient, processes);

    /** Everything offered at once, `concurrency` notifications in flight. */
    const offeredAtOnce =
      (results: fhir4.Resource[]) => async (each: (r: fhir4.Resource) => Promise<void>) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: options.concurrency }, async () => {
            while (next < results.length) await each(results[next++]);
          }),
        );
      };

    /** Offered evenly at `rate` events/s, whatever the answers' pace. */
    const offeredAtRate =
      (results: fhir4.Resource[]) => async (each: (r: fhir4.Resource) => Promise<void>) => {
        const start = performance.now();
        const sends: Promise<void>[] = [];
        for (let i = 0; i < results.length; i++) {
          const due = start + (i * 1000) / options.rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          sends.push(each(results[i]));
        }
        await Promise.all(sends);
      };
    /** A row of the speed table: events/s of the throughput run, latencies of the rate run. */
    const speedRow = (label: string, throughput: PhaseResult, latency: PhaseResult) => {
      const eps = throughput.events / throughput.seconds;
      const sorted = [...latency.latencies].sort((a, b) => a - b);
      const burstSorted = [...throughput.latencies].sort((a, b) => a - b);
      return (
        `${label.padStart(7)}  ${eps.toFixed(0).padStart(8)}  ${(eps / ceiling).toFixed(3).padStart(13)}` +
        `  ${percentile(burstSorted, 50).toFixed(0).padStart(9)}` +
        `  ${options.rate.toString().padStart(6)}  ${percentile(sorted, 50).toFixed(0).padStart(5)}  ${percentile(sorted, 95).toFixed(0).padStart(5)}  ${percentile(sorted, 99).toFixed(0).padStart(5)}`
      );
    };

    const rows: string[] = [];
    const stages: string[] = [];
    const costs: Array<{ workers: number; cost: EventCost; split?: Map<string, number> }> = [];
    const pacedCosts: Array<{ workers: number; cost: EventCost }> = [];
    let profiled: string | undefined;
    for (const workerCount of options.workers) {
      const workers: AegleProcess[] = [];
      for (let i = 0; i < workerCount; i++) {
        workers.push(
          await spawnAegle({
            databaseUrl: database.url,
            redisUrl: redis.url,
            queuePrefix: prefix,
            role: 'worker',
            sources: [{ id: 'bench', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
            env: {
              LOG_LEVEL: 'warn',
              ...reconcile,
              ...(profileDir
                ? {
                    NODE_OPTIONS: `--require ${resolve(__dirname, 'cpu-profile.js')}`,
                    AEGLE_CPU_PROF_DIR: profileDir,
                    AEGLE_CPU_PROF_ON_SIGNAL: '1',
                  }
                : {}),
            },
          }),
        );
      }
      processes.push(...workers);

      await warmUp();

      // Throughput: everything offered at once, `concurrency` notifications in flight.
      const burst = await freshResults(options.events);
      const meter = meterOf([api, ...workers].map(metered));
      await meter.start();
      // The profiles cover the throughput run (cpu-profile.js: SIGUSR2 starts, the next one writes).
      if (profileDir) for (const w of workers) w.child.kill('SIGUSR2');
      const throughput = await runPhase(burst, offeredAtOnce(burst));
      await watch.waitForIdle(60_000);
      const cost = await meter.perEvent(burst.length);
      let split: Map<string, number> | undefined;
      if (profileDir) {
        const files = await Promise.all(workers.map((w) => writtenProfile(w, profileDir)));
        split = new Map();
        for (const file of files)
          for (const [category, n] of stageSamples(file)) split.set(category, (split.get(category) ?? 0) + n);
        profiled ??= files[0];
      }
      costs.push({ workers: workerCount, cost, split });

      // Latency at a steady offered rate.
      const steady = await freshResults(options.rate * options.latencySeconds);
      await meter.start();
      const latency = await runPhase(steady, offeredAtRate(steady));
      await watch.waitForIdle(60_000);
      pacedCosts.push({ workers: workerCount, cost: await meter.perEvent(steady.length) });

      rows.push(speedRow(String(workerCount), throughput, latency));
      stages.push(
        `${String(workerCount).padStart(7)}  ${await stageMedians(db, latency.focusIds)}   (rate run)`,
        `${String(workerCount).padStart(7)}  ${await stageMedians(db, throughput.focusIds)}   (throughput run)`,
      );
      say(`done: ${workerCount} worker process(es)`);
      await Promise.all(workers.map((w) => w.stop()));
    }

    // The last batch and transaction Aegle's workers sent, before the stack floor sends its own.
    const sentByWorkers = await ehr.samples();

    // The same journey from the same parts without Aegle's code, against the same EHR, Redis and PostgreSQL.
    let floor: { cost: EventCost; eventsPerSecond: number } | undefined;
    if (options.floor) {
      const parts = await startStackFloor({
        databaseUrl: database.url,
        redisUrl: redis.url,
        prefix: `${prefix}-floor`,
        ehrBaseUrl: ehr.baseUrl,
      });
      try {
        intakeUrl = parts.url;
        await warmUp();
        const burst = await freshResults(options.events);
        const meter = meterOf(parts.processes);
        await meter.start();
        const throughput = await runPhase(burst, offeredAtOnce(burst));
        floor = {
          cost: await meter.perEvent(burst.length),
          eventsPerSecond: throughput.events / throughput.seconds,
        };
        const steady = await freshResults(options.rate * options.latencySeconds);
        rows.push(speedRow('floor', throughput, await runPhase(steady, offeredAtRate(steady))));
        say('done: stack floor');
      } finally {
        await parts.stop();
      }
    }

    // The EHR client's transport alone, the workers stopped: the bodies they sent, replayed.
    let httpCost: string[] = [];
    if (options.httpRequests > 0) {
      ehr.unwatch();
      httpCost = await httpClientCost(ehr.baseUrl, sentByWorkers, options.httpRequests);
      say('done: HTTP clients alone');
    }

    say(
      `\nbench:e2e — ${options.events} events per throughput run (${options.concurrency} in flight), ${options.rate} events/s for ${options.latencySeconds} s in the latency run`,
    );
    say(
      `FHIR server raw create rate (ceiling): ${ceiling.toFixed(0)}/s (${options.validate ? 'validating R4' : 'no validation'})\n`,
    );
    say(
      'workers  events/s  ÷ raw create  burst p50  rate/s    p50    p95    p99   (latency ms: sent → stored in the EHR)',
    );
    for (const row of rows) say(row);
    if (floor)
      say("  floor: the stack floor, the same journey from the same parts without Aegle's code (below)");
    say('\nwhere the time goes (medians, ms, from the audit trail):');
    say('workers   queued  run wait  plugin run  write-back');
    for (const row of stages) say(row);
    say(
      '  queued: notification accepted → run created (intake, events queue, router); run wait: run created →\n' +
        '  plugin started; plugin run: EHR reads + features + ONNX; write-back: run finished → Observation written',
    );
    say(`\nper event, throughput run (${options.events} events, ${options.concurrency} in flight)`);
    for (const line of costTable(costs)) say(line);
    say(`\nper event, paced run (${options.rate} events/s for ${options.latencySeconds} s: smaller batches)`);
    for (const line of costTable(pacedCosts)) say(line);
    say(
      '  CPU: ms of CPU time from /proc (all cores), far less load-sensitive than wall time. PostgreSQL: the\n' +
        "  backends of Aegle's database only. Aegle = api + worker(s) + PostgreSQL, the cost the floor compares\n" +
        "  with the FHIR server's. SQL statements: sent by api and workers, each one round trip. Bytes: FHIR\n" +
        "  bodies. Redis: a private redis-server; its commands include the bench's queue watcher.",
    );
    if (floor) {
      say(
        `\nthe stack floor, throughput run (${options.events} events, ${options.concurrency} in flight): ${floor.eventsPerSecond.toFixed(0)} events/s`,
      );
      for (const line of costTable([{ workers: 1, cost: floor.cost }])) say(line);
      const first = costs[0];
      say(
        `  Aegle (${first.workers} worker) ÷ stack floor, CPU per event: ${(aegleCpu(first.cost) / aegleCpu(floor.cost)).toFixed(2)}` +
          `; stack floor ÷ FHIR server: ${(aegleCpu(floor.cost) / floor.cost.cpu['FHIR server']).toFixed(2)}\n` +
          '  The stack floor (bench/stack-floor.ts) does what each event needs with the same parts and none of\n' +
          "  Aegle's code: NestJS on Fastify takes the notification, one INSERT, two BullMQ hops, one UPDATE, one\n" +
          "  fhir-kit-client batch of Aegle's searches for PCE, the PCE model on onnxruntime-node, one transaction\n" +
          '  (Observation + Provenance as Aegle shapes them, the earlier result superseded), two INSERTs; its\n' +
          "  'api' and 'worker(s)' are its two processes. What it\n" +
          '  leaves out is what Aegle adds: checks and ordering, the audit hash chain, input rules, exactly-once\n' +
          '  bookkeeping, pacing, logs and metrics.',
      );
    }
    if (costs.some((c) => c.split)) {
      say("\nworkers' CPU per event by stage (ms; from V8 CPU profiles of the throughput run):");
      for (const line of stageTable(costs)) say(line);
      say(
        '  A sample counts for the nearest stage frame on its stack (leaf first); one with none for the\n' +
          '  client library it is in (parsing a PostgreSQL reply, a Redis command, an HTTP response).',
      );
    }
    if (httpCost.length > 0) {
      say(
        "\nthe EHR client's HTTP transport alone (bench driver CPU per request, the workers' last bodies):",
      );
      for (const line of httpCost) say(line);
    }
    if (profiled && options.top > 0) {
      const kept = options.cpuProf ? ` (${profiled})` : '';
      say(`\nheaviest functions (self time) of one worker in the throughput run${kept}:`);
      for (const { frame, share } of topFrames(profiled, options.top))
        say(`${(share * 100).toFixed(1).padStart(6)} %  ${frame}`);
    }
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await db.end().catch(() => undefined);
    await watch.obliterate();
    await watch.close();
    redisClient.disconnect();
    await redis.stop();
    await database.drop();
    await ehr.close();
    if (profileDir && !options.cpuProf) rmSync(profileDir, { recursive: true, force: true });
  }
}

/** The profile a worker writes on its second SIGUSR2. */
async function writtenProfile(worker: AegleProcess, dir: string): Promise<string> {
  const pid = worker.child.pid!;
  const before = new Set(readdirSync(dir));
  worker.child.kill('SIGUSR2');
  for (let waited = 0; waited < 30_000; waited += 50) {
    const file = readdirSync(dir).find(
      (f) => !before.has(f) && f.startsWith(`worker-${pid}-`) && f.endsWith('.cpuprofile'),
    );
    if (file && existsSync(join(dir, file))) return join(dir, file);
    await delay(50);
  }
  throw new Error(`worker ${pid} wrote no CPU profile`);
}

/** What the loop spent on one event: CPU (ms) by process group, and the traffic between the parts. */
interface EventCost {
  cpu: Record<CpuGroup, number>;
  sqlStatements: number;
  fhirRequests: number;
  bytesToEhr: number;
  bytesFromEhr: number;
  redisCommands: number;
  /** The commands Redis ran most, per event. */
  redisTop: Array<[string, number]>;
  /** The FHIR requests by kind (method, type, status), per event. */
  fhirKinds: Array<[string, number]>;
}

type CpuGroup = 'FHIR server' | 'api' | 'worker(s)' | 'PostgreSQL' | 'Redis' | 'bench driver';

interface CostSample {
  cpuMicros: Record<CpuGroup, number>;
  /** Each of the database's backends' CPU: a pooled connection may close (or open) during a phase. */
  backendMicros: Map<number, number>;
  sqlStatements: number;
  traffic: Traffic;
  redisCalls: Map<string, number>;
}

interface MeteredProcess {
  pid: number;
  metricsUrl: string;
}

const metered = (p: AegleProcess): MeteredProcess => ({ pid: p.child.pid!, metricsUrl: p.url });

/** Counts before and after a phase, from /proc, the processes' /metrics, the EHR and Redis. */
class CostMeter {
  private before: CostSample | undefined;
  private driverBefore = process.cpuUsage();

  constructor(
    private readonly db: Client,
    private readonly databaseName: string,
    private readonly ehr: FhirServerProcess,
    private readonly redis: Redis,
    /** The api first, then the workers; each with the URL of its /metrics. */
    private readonly aegle: MeteredProcess[],
  ) {}

  async start(): Promise<void> {
    this.before = await this.sample();
    this.driverBefore = process.cpuUsage();
  }

  async perEvent(events: number): Promise<EventCost> {
    const after = await this.sample();
    const driver = process.cpuUsage(this.driverBefore);
    after.cpuMicros['bench driver'] = driver.user + driver.system;
    const before = this.before!;
    const cpu = Object.fromEntries(
      Object.entries(after.cpuMicros).map(([group, us]) => [
        group,
        (us - before.cpuMicros[group as CpuGroup]) / 1000 / events,
      ]),
    ) as Record<CpuGroup, number>;
    // The backends alive at the end, each from its CPU at the start (0 for one opened since): one
    // closed during the phase drops out (a little uncounted) instead of taking its past with it.
    cpu.PostgreSQL =
      [...after.backendMicros].reduce(
        (sum, [pid, us]) => sum + us - (before.backendMicros.get(pid) ?? 0),
        0,
      ) /
      1000 /
      events;
    return {
      cpu,
      sqlStatements: (after.sqlStatements - before.sqlStatements) / events,
      fhirRequests: (after.traffic.requests - before.traffic.requests) / events,
      fhirKinds: Object.entries(after.traffic.kinds)
        .map(([kind, n]): [string, number] => [kind, (n - (before.traffic.kinds[kind] ?? 0)) / events])
        .filter(([, n]) => n > 0)
        .sort((a, b) => b[1] - a[1]),
      bytesToEhr: (after.traffic.bytesIn - before.traffic.bytesIn) / events,
      bytesFromEhr: (after.traffic.bytesOut - before.traffic.bytesOut) / events,
      redisCommands:
        [...after.redisCalls].reduce((sum, [name, n]) => sum + n - (before.redisCalls.get(name) ?? 0), 0) /
        events,
      redisTop: [...after.redisCalls]
        .map(([name, n]): [string, number] => [name, (n - (before.redisCalls.get(name) ?? 0)) / events])
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4),
    };
  }

  private async sample(): Promise<CostSample> {
    // PostgreSQL: this database's backends (pooled, so their pids persist through the phase).
    const { rows } = await this.db.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [this.databaseName],
    );
    const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + processCpuMicros(pid), 0);
    const [api, ...workers] = this.aegle;
    const [statements, traffic, redisInfo] = await Promise.all([
      Promise.all(this.aegle.map((p) => counterOf(p.metricsUrl, 'aegle_db_statements_total'))),
      this.ehr.traffic(),
      this.redis.info('all'), // 'all' holds commandstats
    ]);
    return {
      backendMicros: new Map(rows.map((r) => [r.pid, processCpuMicros(r.pid)])),
      cpuMicros: {
        'FHIR server': cpuOf([this.ehr.pid]),
        api: cpuOf([api.pid]),
        'worker(s)': cpuOf(workers.map((w) => w.pid)),
        PostgreSQL: cpuOf(rows.map((r) => r.pid)),
        Redis: cpuOf([Number(/process_id:(\d+)/.exec(redisInfo)![1])]),
        'bench driver': 0,
      },
      sqlStatements: statements.reduce((a, b) => a + b, 0),
      traffic,
      redisCalls: new Map(
        [...redisInfo.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]),
      ),
    };
  }
}

/** The value of an unlabelled counter on a process's /metrics. */
async function counterOf(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!match) throw new Error(`${url}/metrics has no ${name}`);
  return Number(match[1]);
}

/** CPU ms per event of api + workers + their PostgreSQL backends: the cost the floor compares with the EHR's. */
const aegleCpu = (c: EventCost) => c.cpu.api + c.cpu['worker(s)'] + c.cpu.PostgreSQL;

const column = (values: string[], width = 11) => values.map((v) => v.padStart(width)).join('');

/** Rows of figures, a column per worker count. */
function costTable(costs: Array<{ workers: number; cost: EventCost }>): string[] {
  const label = (text: string) => text.padEnd(40);
  const row = (text: string, value: (c: EventCost) => number, digits = 1) =>
    label(text) + column(costs.map(({ cost }) => value(cost).toFixed(digits)));
  /** Up to `rows` lines of (name, figure) per event, under the row they break down. */
  const breakdown = (
    of: (c: EventCost) => Array<[string, number]>,
    rows: number,
    digits: number,
    width: number,
  ) =>
    Array.from(
      { length: rows },
      (_, i) =>
        label(i === 0 ? '  of which' : '') +
        column(
          costs.map(({ cost }) => (of(cost)[i] ? `${of(cost)[i][0]} ${of(cost)[i][1].toFixed(digits)}` : '')),
          width,
        ),
    );
  return [
    label('workers') + column(costs.map((c) => String(c.workers))),
    ...(['FHIR server', 'api', 'worker(s)', 'PostgreSQL', 'Redis', 'bench driver'] as const).map((group) =>
      row(`CPU ms  ${group}`, (c) => c.cpu[group], 2),
    ),
    row('CPU ms  Aegle (api+workers+PostgreSQL)', aegleCpu, 2),
    row('        Aegle ÷ FHIR server', (c) => aegleCpu(c) / c.cpu['FHIR server'], 2),
    row('SQL statements (round trips)', (c) => c.sqlStatements),
    row('FHIR requests', (c) => c.fhirRequests, 2),
    ...breakdown(
      (c) => c.fhirKinds,
      Math.min(4, Math.max(...costs.map(({ cost }) => cost.fhirKinds.length))),
      2,
      30,
    ),
    row('bytes to the EHR', (c) => c.bytesToEhr, 0),
    row('bytes from the EHR', (c) => c.bytesFromEhr, 0),
    row('Redis commands', (c) => c.redisCommands),
    ...breakdown((c) => c.redisTop, 4, 1, 22),
  ];
}

/** The workers' CPU per event split by the profiles' shares of each category. */
function stageTable(
  costs: Array<{ workers: number; cost: EventCost; split?: Map<string, number> }>,
): string[] {
  const label = (text: string) => text.padEnd(26);
  const shown = costs.filter((c) => c.split);
  const totals = shown.map((c) => [...c.split!.values()].reduce((a, b) => a + b, 0));
  const lines = [
    label('workers') +
      column(
        shown.map((c) => String(c.workers)),
        16,
      ),
  ];
  for (const category of CATEGORIES) {
    if (!shown.some((c) => c.split!.get(category))) continue;
    lines.push(
      label(category) +
        column(
          shown.map((c, i) => {
            const share = (c.split!.get(category) ?? 0) / totals[i];
            return `${(share * c.cost.cpu['worker(s)']).toFixed(2)} (${(share * 100).toFixed(0).padStart(2)} %)`;
          }),
          16,
        ),
    );
  }
  lines.push(label('samples') + column(totals.map(String), 16));
  return lines;
}

/** Median time of each stage of the events whose focus is one of `focusIds`, from the audit tables. */
async function stageMedians(db: Client, focusIds: string[]): Promise<string> {
  const { rows } = await db.query<Record<'queued' | 'wait' | 'plugin' | 'writeback', number>>(
    `SELECT
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.created_at - e.created_at) * 1000) AS queued,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.created_at) * 1000 - r.latency_ms) AS wait,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.latency_ms) AS plugin,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w.created_at - r.finished_at) * 1000) AS writeback
     FROM event e JOIN plugin_run r ON r.event_id = e.id
     JOIN write_back w ON w.run_id = r.id AND w.outcome = 'created'
     WHERE e.focus_id = ANY($1)`,
    [focusIds],
  );
  const r = rows[0];
  return `${ms(r.queued)}  ${ms(r.wait).padStart(8)}  ${ms(r.plugin).padStart(10)}  ${ms(r.writeback).padStart(10)}`;
}

async function fhirPost<T = unknown>(ehr: FhirServerProcess, path: string, body: unknown): Promise<T> {
  const response = await fetch(`${ehr.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`FHIR server answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

async function inParallel<T>(items: T[], width: number, each: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await each(items[next++]);
    }),
  );
}

/** Plain Observation creates against the same FHIR server, as fast as `concurrency` clients go. */
async function rawCreateRate(
  ehr: FhirServerProcess,
  profiles: PatientProfile[],
  concurrency: number,
): Promise<number> {
  const total = Math.min(1000, profiles.length * 2);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const p = profiles[next++ % profiles.length];
        const response = await fetch(`${ehr.baseUrl}/Observation`, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify({
            ...cholesterolResult(p, new Date().toISOString()),
            code: { coding: [{ system: 'http://loinc.org', code: '14647-2' }] },
          }),
        });
        await response.body?.cancel();
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:e2e failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);

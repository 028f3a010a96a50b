/**
 * `npm run bench:e2e`: synthetic patients' notifications through the whole loop — intake over
 * HTTP (a ROLE=api process) → Redis queues → ROLE=worker processes (router, PCE plugin run with its
 * FHIR reads, ONNX) → write-back to a FHIR server over HTTP → audit in PostgreSQL — with 1 and then
 * 2 worker processes. Prints events/s and end-to-end latency (notification sent → Observation
 * stored in the EHR), next to the FHIR server's own raw create rate measured in the same run: the
 * ceiling, since every event costs several FHIR requests, one of them a two-resource transaction.
 *
 * The FHIR server (test/support/fhir-server.ts, validating writes against R4 unless --no-validate)
 * runs in a process of its own, so the driver does not compete with it for an event loop.
 *
 *   npm run bench:e2e -- --events 600 --rate 100 --latency-seconds 5
 *   npm run bench:e2e -- --workers 1 --cpu-prof /tmp/aegle-prof   # where a worker's CPU goes
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { Client } from 'pg';
import { AegleProcess, spawnAegle } from '../test/support/aegle-process';
import { createTestDatabase, TEST_REDIS_URL } from '../test/support/aegle-app';
import { FhirServerProcess, startFhirServerProcess } from '../test/support/fhir-server-process';
import { watchQueues } from '../test/support/queue-watch';
import {
  chartTransaction,
  cholesterolResult,
  generatePatients,
  PatientProfile,
} from '../sandbox/synthetic-patients';

const TOKEN = 'bench-inbound-token';
const RISK_CODE = '79423-0';

const options = new Command()
  .option('--events <n>', 'events in the throughput run (per worker configuration)', (v) => Number(v), 600)
  .option('--rate <n>', 'events/s offered in the latency run', (v) => Number(v), 100)
  .option('--latency-seconds <n>', 'length of the latency run', (v) => Number(v), 5)
  .option('--workers <list>', 'worker process counts to run', (v) => v.split(',').map(Number), [1, 2])
  .option('--concurrency <n>', 'notifications in flight in the throughput run', (v) => Number(v), 32)
  .option('--no-validate', 'the FHIR server stores writes without validating them against R4')
  .option('--cpu-prof <dir>', 'write a V8 CPU profile of each worker process to this folder')
  .parse()
  .opts<{
    events: number;
    rate: number;
    latencySeconds: number;
    workers: number[];
    concurrency: number;
    validate: boolean;
    cpuProf?: string;
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
  if (options.cpuProf) mkdirSync(options.cpuProf, { recursive: true });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const ehr = await startFhirServerProcess({ validate: options.validate });
  const database = await createTestDatabase();
  const prefix = `aegle-bench-${randomBytes(4).toString('hex')}`;
  const watch = await watchQueues(TEST_REDIS_URL, prefix);
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
      redisUrl: TEST_REDIS_URL,
      queuePrefix: prefix,
      role: 'api',
      sources: [{ id: 'bench', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      env: { LOG_LEVEL: 'warn' },
    });
    processes.push(api);
    await db.connect(); // the api process has migrated the database by now

    const notify = (resource: fhir4.Resource) =>
      fetch(`${api.url}/fhir/notify/bench`, {
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

    const rows: string[] = [];
    const stages: string[] = [];
    const cpuRows: string[] = [];
    for (const workerCount of options.workers) {
      const workers: AegleProcess[] = [];
      for (let i = 0; i < workerCount; i++) {
        workers.push(
          await spawnAegle({
            databaseUrl: database.url,
            redisUrl: TEST_REDIS_URL,
            queuePrefix: prefix,
            role: 'worker',
            sources: [{ id: 'bench', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
            env: {
              LOG_LEVEL: 'warn',
              ...(options.cpuProf
                ? {
                    NODE_OPTIONS: `--require ${resolve(__dirname, 'cpu-profile.js')}`,
                    AEGLE_CPU_PROF_DIR: resolve(options.cpuProf),
                  }
                : {}),
            },
          }),
        );
      }
      processes.push(...workers);

      // Warm-up: connections, JIT, the model's Device.
      const warm = await freshResults(40);
      await runPhase(warm, async (each) => {
        await Promise.all(warm.map(each));
      });

      // Throughput: everything offered at once, `concurrency` notifications in flight.
      const burst = await freshResults(options.events);
      const cpu = new CpuMeter(db, new URL(database.url).pathname.slice(1), {
        'FHIR server': [ehr.pid],
        api: [api.child.pid!],
        [`worker${workerCount > 1 ? 's' : ''}`]: workers.map((w) => w.child.pid!),
      });
      await cpu.start();
      const throughput = await runPhase(burst, async (each) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: options.concurrency }, async () => {
            while (next < burst.length) await each(burst[next++]);
          }),
        );
      });
      await watch.waitForIdle(60_000);
      cpuRows.push(`${String(workerCount).padStart(7)}  ${await cpu.perEvent(burst.length)}`);

      // Latency at a steady offered rate.
      const steady = await freshResults(options.rate * options.latencySeconds);
      const latency = await runPhase(steady, async (each) => {
        const start = performance.now();
        const sends: Promise<void>[] = [];
        for (let i = 0; i < steady.length; i++) {
          const due = start + (i * 1000) / options.rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          sends.push(each(steady[i]));
        }
        await Promise.all(sends);
      });
      await watch.waitForIdle(60_000);

      const eps = throughput.events / throughput.seconds;
      const sorted = latency.latencies.sort((a, b) => a - b);
      const burstSorted = throughput.latencies.sort((a, b) => a - b);
      rows.push(
        `${String(workerCount).padStart(7)}  ${eps.toFixed(0).padStart(8)}  ${(eps / ceiling).toFixed(3).padStart(13)}` +
          `  ${percentile(burstSorted, 50).toFixed(0).padStart(9)}` +
          `  ${options.rate.toString().padStart(6)}  ${percentile(sorted, 50).toFixed(0).padStart(5)}  ${percentile(sorted, 95).toFixed(0).padStart(5)}  ${percentile(sorted, 99).toFixed(0).padStart(5)}`,
      );
      stages.push(
        `${String(workerCount).padStart(7)}  ${await stageMedians(db, latency.focusIds)}   (rate run)`,
        `${String(workerCount).padStart(7)}  ${await stageMedians(db, throughput.focusIds)}   (throughput run)`,
      );
      say(`done: ${workerCount} worker process(es)`);
      await Promise.all(workers.map((w) => w.stop()));
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
    say('\nwhere the time goes (medians, ms, from the audit trail):');
    say('workers   queued  run wait  plugin run  write-back');
    for (const row of stages) say(row);
    say(
      '  queued: notification accepted → run created (intake, events queue, router); run wait: run created →\n' +
        '  plugin started; plugin run: EHR reads + features + ONNX; write-back: run finished → Observation written',
    );
    say(
      '\nCPU per event in the throughput run (ms of CPU time, all cores; far less load-sensitive than wall time):',
    );
    say(`workers  ${CpuMeter.header}`);
    for (const row of cpuRows) say(row);
    say(
      '  Redis is shared with other users of this machine and not counted. On two dedicated cores the\n' +
        '  loop could not go faster than 2000 / total events/s.',
    );
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await db.end().catch(() => undefined);
    await watch.obliterate();
    await watch.close();
    await database.drop();
    await ehr.close();
  }
}

/** CPU time (user + system) the loop's processes spent, read from /proc, per event. */
class CpuMeter {
  static readonly header = 'FHIR server      api  worker(s)  PostgreSQL  bench driver   total';
  private before = new Map<string, number>();
  private driverBefore = process.cpuUsage();

  constructor(
    private readonly db: Client,
    private readonly databaseName: string,
    private readonly groups: Record<string, number[]>,
  ) {}

  async start(): Promise<void> {
    this.before = await this.sample();
    this.driverBefore = process.cpuUsage();
  }

  async perEvent(events: number): Promise<string> {
    const after = await this.sample();
    const driver = process.cpuUsage(this.driverBefore);
    const used = (name: string) => ((after.get(name) ?? 0) - (this.before.get(name) ?? 0)) / events;
    const values = [
      ...Object.keys(this.groups).map(used),
      used('PostgreSQL'),
      (driver.user + driver.system) / 1000 / events,
    ];
    const total = values.reduce((a, b) => a + b, 0);
    const widths = [11, 8, 10, 11, 13, 7];
    return [...values, total].map((v, i) => v.toFixed(1).padStart(widths[i])).join(' ');
  }

  /** Milliseconds of CPU per group; PostgreSQL is this database's backends (their pids persist in pools). */
  private async sample(): Promise<Map<string, number>> {
    const { rows } = await this.db.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [this.databaseName],
    );
    const groups: Record<string, number[]> = { ...this.groups, PostgreSQL: rows.map((r) => r.pid) };
    return new Map(
      Object.entries(groups).map(([name, pids]) => [name, pids.reduce((sum, pid) => sum + cpuMs(pid), 0)]),
    );
  }
}

/** utime + stime of a process in ms (0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks at USER_HZ = 100
  } catch {
    return 0;
  }
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

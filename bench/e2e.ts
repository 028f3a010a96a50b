/**
 * `npm run bench:e2e`: synthetic patients' notifications through the whole loop — intake over
 * HTTP (a ROLE=api process) → Redis queues → ROLE=worker processes (router, PCE plugin run with its
 * FHIR reads, ONNX) → write-back to a FHIR server over HTTP → audit in PostgreSQL — with 1 and then
 * 2 worker processes. Prints events/s and end-to-end latency (notification sent → Observation
 * stored in the EHR), next to the FHIR server's own raw create rate measured in the same run: the
 * ceiling, since every event costs about a dozen FHIR requests.
 *
 *   npm run bench:e2e -- --events 600 --rate 100 --latency-seconds 5
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { AegleProcess, spawnAegle } from '../test/support/aegle-process';
import { createTestDatabase, TEST_REDIS_URL } from '../test/support/aegle-app';
import { startFhirServer, TestFhirServer } from '../test/support/fhir-server';
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
  .parse()
  .opts<{ events: number; rate: number; latencySeconds: number; workers: number[]; concurrency: number }>();

/** PCE can compute a risk for this patient (so every event yields exactly one Observation). */
function eligible(p: PatientProfile): boolean {
  return (
    p.age >= 40 &&
    p.age <= 79 &&
    p.hdl !== undefined &&
    p.smoker !== 'unknown' &&
    p.totalCholesterol >= 130 &&
    p.totalCholesterol <= 320
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface PhaseResult {
  events: number;
  seconds: number;
  latencies: number[];
}

async function main(): Promise<void> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const ehr = await startFhirServer();
  const database = await createTestDatabase();
  const prefix = `aegle-bench-${randomBytes(4).toString('hex')}`;
  const watch = await watchQueues(TEST_REDIS_URL, prefix);
  const processes: AegleProcess[] = [];
  try {
    const needed = Math.max(options.events, options.rate * options.latencySeconds);
    const patients = generatePatients(Math.ceil(needed * 1.6), 42, new Date(), 'bench')
      .filter((p) => eligible(p.profile))
      .slice(0, needed);
    for (const p of patients) await ehr.seed(chartTransaction(p) as never);
    say(`FHIR server (Medplum in-memory over HTTP) seeded with ${patients.length} patients`);

    // The ceiling: the FHIR server's own create rate, same client concurrency, same machine.
    const ceiling = await rawCreateRate(
      ehr,
      patients.map((p) => p.profile),
      options.concurrency,
    );
    say(`FHIR server raw create rate: ${ceiling.toFixed(0)} creates/s (${options.concurrency} in flight)\n`);

    // Results landing in the EHR: the end of each event's journey.
    const sentAt = new Map<string, number>();
    let landed: (focusId: string, at: number) => void = () => undefined;
    ehr.onWrite((resource) => {
      const o = resource as fhir4.Observation;
      if (o.resourceType !== 'Observation' || o.code?.coding?.[0]?.code !== RISK_CODE) return;
      const at = performance.now();
      for (const ref of o.derivedFrom ?? []) {
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
      for (const p of patients.slice(0, count)) {
        results.push((await ehr.seed(cholesterolResult(p.profile, new Date().toISOString())))[0]);
      }
      return results;
    };

    const runPhase = async (
      results: fhir4.Resource[],
      send: (each: (r: fhir4.Resource) => Promise<void>) => Promise<void>,
    ) => {
      const latencies: number[] = [];
      let remaining = results.length;
      const done = new Promise<void>((resolve) => {
        landed = (id, at) => {
          latencies.push(at - sentAt.get(id)!);
          sentAt.delete(id);
          if (--remaining === 0) resolve();
        };
      });
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
      } as PhaseResult;
    };

    const rows: string[] = [];
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
            env: { LOG_LEVEL: 'warn' },
          }),
        );
      }
      processes.push(...workers);

      // Warm-up: connections, JIT, the model's Device.
      const warm = await freshResults(20);
      await runPhase(warm, async (each) => {
        await Promise.all(warm.map(each));
      });

      // Throughput: everything offered at once, `concurrency` notifications in flight.
      const burst = await freshResults(options.events);
      const throughput = await runPhase(burst, async (each) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: options.concurrency }, async () => {
            while (next < burst.length) await each(burst[next++]);
          }),
        );
      });

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
      say(`done: ${workerCount} worker process(es)`);
      await Promise.all(workers.map((w) => w.stop()));
    }

    say(
      `\nbench:e2e — ${options.events} events per throughput run, ${options.rate} events/s for ${options.latencySeconds} s in the latency run`,
    );
    say(`FHIR server raw create rate (ceiling): ${ceiling.toFixed(0)}/s\n`);
    say(
      'workers  events/s  ÷ raw create  burst p50  rate/s    p50    p95    p99   (latency ms: sent → stored in the EHR)',
    );
    for (const row of rows) say(row);
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await watch.obliterate();
    await watch.close();
    await database.drop();
    await ehr.close();
  }
}

/** Plain Observation creates against the same FHIR server, as fast as `concurrency` clients go. */
async function rawCreateRate(
  ehr: TestFhirServer,
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

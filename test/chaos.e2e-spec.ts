import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { RESULT_IDENTIFIER_SYSTEM } from '@aegle/plugin-sdk/engine';
import { AegleProcess, spawnAegle, SpawnOptions } from './support/aegle-process';
import { createTestDatabase, TestDatabase } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { QueueWatch, watchQueues } from './support/queue-watch';
import { RedisProcess, startRedisProcess } from './support/redis-process';
import { workSnapshot } from './support/work-snapshot';
import {
  chartTransaction,
  cholesterolResult,
  generatePatients,
  PatientProfile,
} from '../sandbox/synthetic-patients';

/**
 * 2,000 by default; CHAOS_EVENTS makes a quicker (or longer) run: `npm run chaos:long` is the
 * 10,000-event one (docs/benchmarks.md).
 */
const EVENTS = Number(process.env.CHAOS_EVENTS ?? 2000);
/** About 20 results per patient however long the run, as in a hospital: a search costs what it finds. */
const PATIENTS = Math.min(EVENTS, Math.max(100, Math.ceil(EVENTS / 20)));
/** How long the EHR answers every request with 503 once, mid-run. */
const EHR_OUTAGE_MS = Number(process.env.CHAOS_EHR_OUTAGE_MS ?? 30_000);
/** Worker processes killed with SIGKILL during the run. */
const WORKER_KILLS = 3;
const TOKEN = 'chaos-inbound-token';
const RISK_CODE = '79423-0';
/**
 * A wait for results gives up when none has landed for this long: well past the outage, the
 * write-back breaker's cool-down after it and a retry's capped backoff, so only a stall trips it.
 */
const STALL_MS = Number(process.env.CHAOS_STALL_MS ?? 180_000);
/**
 * The slowest pace the run is allowed (events/s, faults included), which bounds it: a third of what
 * the long run keeps on a 2-core machine shared with other work (docs/benchmarks.md).
 */
const MIN_EVENTS_PER_S = Number(process.env.CHAOS_MIN_EVENTS_PER_S ?? 1);
/** The final state's checks wait this long for the last writes to settle. */
const WAIT_MS = 300_000;
const LANDING_BUDGET_MS = (EVENTS / MIN_EVENTS_PER_S) * 1000 + EHR_OUTAGE_MS;
/** Where each process's log goes, when set. */
const LOG_DIR = process.env.CHAOS_LOG_DIR;
/** How often the test prints where the work stands. */
const PROGRESS_MS = Number(process.env.CHAOS_PROGRESS_MS ?? 30_000);

jest.setTimeout(LANDING_BUDGET_MS + 2 * WAIT_MS);

const outage = {
  severity: 'error',
  code: 'transient',
  details: { text: 'The EHR is down' },
} as const;

/** PCE computes a risk for this patient (a margin inside its ranges: mmol/L values come back a little off). */
const eligible = (p: PatientProfile) =>
  p.age >= 40 &&
  p.age <= 79 &&
  p.hdl !== undefined &&
  p.smoker !== 'unknown' &&
  p.totalCholesterol >= 132 &&
  p.totalCholesterol <= 318;

/**
 * While a stream of events flows through an api process and two worker processes, a worker is
 * killed with SIGKILL three times, Redis (without persistence, so every queued job is lost) is
 * restarted once and the EHR answers nothing but 503 for 30 s. PostgreSQL is the record of the work:
 * the outbox relay and the work reconciler put back what Redis lost, stalled jobs of the killed
 * workers are taken over, runs and write-backs retry through the outage, and conditional writes keep
 * retries from writing twice. Afterwards the EHR holds exactly one result per event.
 */
describe(`chaos: ${EVENTS} events, three SIGKILLed workers, a Redis restart and an EHR outage`, () => {
  let ehr: TestFhirServer;
  let database: TestDatabase;
  let redis: RedisProcess;
  let watch: QueueWatch;
  let base: SpawnOptions;
  const processes: AegleProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisProcess();
    ehr = await startFhirServer({ validate: false }); // validation has its own tests; this one is about durability
    database = await createTestDatabase();
    const queuePrefix = `aegle-chaos-${randomBytes(4).toString('hex')}`;
    watch = await watchQueues(redis.url, queuePrefix);
    base = {
      databaseUrl: database.url,
      redisUrl: redis.url,
      queuePrefix,
      sources: [{ id: 'chaos', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      env: {
        LOG_LEVEL: 'warn',
        AEGLE_RECONCILE_INTERVAL_MS: '1000',
        // The kills are the test's own, not a job crashing its worker: a job held by every killed
        // worker (a run waiting its turn for the EHR can be, on a loaded machine) must not give up.
        AEGLE_MAX_STALLED_COUNT: String(WORKER_KILLS),
      },
    };
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await watch?.close();
    await redis?.stop();
    await database?.drop();
    await ehr?.close();
  });

  const spawnRole = async (role: 'api' | 'worker') => {
    const p = await spawnAegle({ ...base, role });
    processes.push(p);
    if (LOG_DIR) {
      // Each process's log in a file of its own, to read while a long run goes or after it failed.
      const log = createWriteStream(join(LOG_DIR, `${role}-${p.child.pid}.log`));
      log.write(p.lines.map((line) => `${line}\n`).join(''));
      p.child.stdout!.pipe(log);
      p.child.stderr!.pipe(log);
    }
    return p;
  };

  it('writes exactly one Observation per event, loses none, and keeps the audit chain intact', async () => {
    const started = Date.now();
    const patients = generatePatients(PATIENTS * 3, 99, new Date(), 'chaos')
      .filter((p) => eligible(p.profile))
      .slice(0, PATIENTS);
    for (const p of patients) await ehr.seed(chartTransaction(p) as never);
    const focus: fhir4.Resource[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const p = patients[i % patients.length].profile;
      const when = new Date(Date.now() - (EVENTS - i) * 60_000).toISOString();
      focus.push((await ehr.seed(cholesterolResult(p, when)))[0]);
    }
    const focusIds = new Set(focus.map((f) => f.id!));

    const api = await spawnRole('api');
    const workers = [await spawnRole('worker'), await spawnRole('worker')];
    const snapshot = () =>
      workSnapshot({ watch, databaseUrl: database.url, workers: workers.map((w) => w.url) });

    // Results as they land, counted by identifier (one per event; a supersession rewrites one, which
    // counts once), waking the test at chosen points.
    const sending = Date.now();
    const deadline = sending + LANDING_BUDGET_MS;
    const landed = new Set<string>();
    let lastLanding = sending;
    const waiters: Array<{ at: number; resolve: () => void }> = [];
    ehr.onWrite((resource) => {
      const o = resource as fhir4.Observation;
      if (o.resourceType !== 'Observation' || o.code?.coding?.[0]?.code !== RISK_CODE) return;
      const identifier = o.identifier?.find((i) => i.system === RESULT_IDENTIFIER_SYSTEM)?.value;
      if (identifier && !landed.has(identifier)) {
        landed.add(identifier);
        lastLanding = Date.now();
      }
      for (const w of waiters.filter((w) => landed.size >= w.at)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
    /** Resolves once `at` results have landed; gives up on a stall, or past the run's budget. */
    const whenLanded = (at: number) =>
      new Promise<void>((done, fail) => {
        if (landed.size >= at) return done();
        const watchdog = setInterval(() => {
          const stalled = Date.now() - lastLanding > STALL_MS;
          if (!stalled && Date.now() < deadline) return;
          clearInterval(watchdog);
          const why = stalled
            ? `none for ${STALL_MS / 1000} s`
            : `the run's budget of ${LANDING_BUDGET_MS / 1000} s is spent`;
          void snapshot().then((state) =>
            fail(new Error(`${landed.size} of ${at} results had landed (${why}); ${state}`)),
          );
        }, 1_000);
        waiters.push({
          at,
          resolve: () => {
            clearInterval(watchdog);
            done();
          },
        });
      });
    const progress = setInterval(() => {
      const seconds = (Date.now() - sending) / 1000;
      void snapshot().then((state) =>
        process.stdout.write(
          `chaos: ${seconds.toFixed(0)} s, ${landed.size} of ${EVENTS} results landed ` +
            `(${(landed.size / seconds).toFixed(1)}/s), ${ehr.traffic.requests} EHR requests; ${state}\n`,
        ),
      );
    }, PROGRESS_MS);

    // The EHR's side: a rest-hook sender retries each notification until Aegle answers 200.
    let resent = 0;
    const sender = (async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < focus.length) {
            const resource = focus[next++];
            for (;;) {
              const response = await fetch(`${api.url}/fhir/notify/chaos`, {
                method: 'POST',
                headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
                body: JSON.stringify(resource),
              }).catch(() => undefined);
              await response?.body?.cancel();
              if (response?.status === 200) break;
              resent++;
              await delay(100); // a sender's retry pacing, not synchronisation
            }
          }
        }),
      );
    })();

    const killWorker = async (index: number) => {
      const victim = workers[index];
      victim.child.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');
      workers[index] = await spawnRole('worker');
    };

    let refused = 0;
    try {
      await whenLanded(Math.floor(EVENTS * 0.2));
      await killWorker(0);
      await whenLanded(Math.floor(EVENTS * 0.35));
      await redis.stop(); // every queued job goes with it
      await redis.start();
      await whenLanded(Math.floor(EVENTS * 0.5));
      // The EHR goes down: every read and write answers 503 until it is back.
      ehr.onRequest(() => {
        refused++;
        return { status: 503, body: { resourceType: 'OperationOutcome', issue: [outage] } };
      });
      await delay(EHR_OUTAGE_MS); // the outage's length, not synchronisation
      ehr.onRequest(undefined);
      await whenLanded(Math.floor(EVENTS * 0.65));
      await killWorker(1);
      await whenLanded(Math.floor(EVENTS * 0.8));
      await killWorker(0);
      await sender;
      await whenLanded(EVENTS);
    } finally {
      clearInterval(progress);
    }
    const loopSeconds = (Date.now() - sending) / 1000;

    // Everything reached a terminal state: no event unrouted, no run pending, no result unwritten.
    const db = new Client({ connectionString: database.url });
    await db.connect();
    let retried = 0;
    try {
      const unfinished = async () =>
        Number(
          (
            await db.query<{ n: string }>(
              `SELECT (SELECT count(*) FROM event WHERE status = 'accepted')
                    + (SELECT count(*) FROM plugin_run WHERE outcome = 'pending')
                    + (SELECT count(*) FROM plugin_run r WHERE r.outcome = 'succeeded' AND NOT EXISTS
                        (SELECT 1 FROM write_back w WHERE w.run_id = r.id AND w.outcome IN ('created', 'exists')))
                    AS n`,
            )
          ).rows[0].n,
        );
      await watch.until(async () => (await unfinished()) === 0, 'every event to finish', WAIT_MS);

      // Exactly one result per event in the EHR, counted by identifier: none lost, none duplicated.
      const response = await fetch(
        `${ehr.baseUrl}/Observation?code=http://loinc.org|${RISK_CODE}&_count=${EVENTS * 2}`,
      );
      const bundle = (await response.json()) as fhir4.Bundle;
      const results = (bundle.entry ?? []).map((e) => e.resource as fhir4.Observation);
      const identifiers = results.map(
        (o) => o.identifier?.find((i) => i.system === RESULT_IDENTIFIER_SYSTEM)?.value,
      );
      expect(identifiers.every(Boolean)).toBe(true);
      expect(new Set(identifiers).size).toBe(results.length);
      expect(results).toHaveLength(EVENTS);
      expect(new Set(identifiers)).toEqual(landed);

      // Every event sent is in the audit trail once, with one run.
      const focusAudited = await db.query<{ focus_id: string }>(`SELECT focus_id FROM event`);
      expect(focusAudited.rows).toHaveLength(EVENTS);
      expect(new Set(focusAudited.rows.map((r) => r.focus_id))).toEqual(focusIds);
      const events = await db.query<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM event GROUP BY status`,
      );
      expect(events.rows).toEqual([{ status: 'routed', n: String(EVENTS) }]);
      const runs = await db.query<{ outcome: string; n: string }>(
        `SELECT outcome, count(*) AS n FROM plugin_run GROUP BY outcome`,
      );
      expect(runs.rows).toEqual([{ outcome: 'succeeded', n: String(EVENTS) }]);
      // Each run wrote one Observation; a retry after a kill finds it there ('exists'), never a second.
      const written = await db.query<{ ids: string[]; identifiers: string[] }>(
        `SELECT array_agg(DISTINCT resource_id) AS ids, array_agg(DISTINCT identifier) AS identifiers
           FROM write_back WHERE outcome IN ('created', 'exists') GROUP BY run_id`,
      );
      expect(written.rows).toHaveLength(EVENTS);
      expect(written.rows.filter((r) => r.ids.length !== 1 || r.identifiers.length !== 1)).toEqual([]);
      expect(new Set(written.rows.map((r) => r.ids[0]))).toEqual(new Set(results.map((o) => o.id)));
      expect(new Set(written.rows.map((r) => r.identifiers[0]))).toEqual(new Set(identifiers));
      retried = Number(
        (await db.query<{ n: string }>(`SELECT count(*) AS n FROM write_back WHERE outcome = 'retrying'`))
          .rows[0].n,
      );
    } finally {
      await db.end();
    }

    // The audit trail is intact, as the operator's own command sees it.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['-r', '@swc-node/register', 'apps/engine/src/cli/main.ts', 'audit', 'verify'],
      { cwd: resolve(__dirname, '..'), env: { ...process.env, DATABASE_URL: database.url } },
    );
    expect(stdout).toMatch(/chain intact/);
    const verified = `${/walked [^\n]*/.exec(stdout)?.[0]}, chain intact`;

    expect(refused).toBeGreaterThan(0); // the outage was felt
    process.stdout.write(
      `chaos: ${EVENTS} events (${PATIENTS} patients) through 3 worker kills, a Redis restart and a ` +
        `${EHR_OUTAGE_MS / 1000} s EHR outage: ${landed.size} results landed exactly once in ` +
        `${loopSeconds.toFixed(0)} s (${(EVENTS / loopSeconds).toFixed(1)} events/s), ${retried} write-back ` +
        `attempts retried, ${resent} notifications resent, ${refused} EHR requests refused; audit verify: ` +
        `${verified}; ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`,
    );
  });
});

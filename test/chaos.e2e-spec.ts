import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Client } from 'pg';
import { AegleProcess, spawnAegle, SpawnOptions } from './support/aegle-process';
import { createTestDatabase, TestDatabase } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import {
  chartTransaction,
  cholesterolResult,
  generatePatients,
  PatientProfile,
} from '../sandbox/synthetic-patients';

/** 2,000 by default; CHAOS_EVENTS makes a quicker (or longer) run. */
const EVENTS = Number(process.env.CHAOS_EVENTS ?? 2000);
const PATIENTS = Math.min(100, EVENTS);
const TOKEN = 'chaos-inbound-token';
const RISK_CODE = '79423-0';

jest.setTimeout(15 * 60_000);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A private, non-persistent Redis: restarting it loses every queued job, the worst case. */
class PrivateRedis {
  private process?: ChildProcess;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.process = child;
    return new Promise((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        if (/Ready to accept connections/.test(chunk.toString())) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** PCE computes a risk for this patient: every event yields exactly one Observation. */
const eligible = (p: PatientProfile) =>
  p.age >= 40 &&
  p.age <= 79 &&
  p.hdl !== undefined &&
  p.smoker !== 'unknown' &&
  p.totalCholesterol >= 130 &&
  p.totalCholesterol <= 320;

/**
 * While a stream of events flows through an api process and two worker processes, a worker is
 * killed with SIGKILL twice and Redis (without persistence) is restarted once. Afterwards the EHR
 * holds exactly one result Observation per event: none lost, none written twice.
 */
describe(`chaos: ${EVENTS} events, two SIGKILLed workers and a Redis restart`, () => {
  let ehr: TestFhirServer;
  let database: TestDatabase;
  let redis: PrivateRedis;
  let base: SpawnOptions;
  const processes: AegleProcess[] = [];

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    ehr = await startFhirServer({ validate: false });
    database = await createTestDatabase();
    base = {
      databaseUrl: database.url,
      redisUrl: redis.url,
      queuePrefix: `aegle-chaos-${randomBytes(4).toString('hex')}`,
      sources: [{ id: 'chaos', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      env: { LOG_LEVEL: 'warn', AEGLE_RECONCILE_INTERVAL_MS: '1000' },
    };
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await redis?.stop();
    await database?.drop();
    await ehr?.close();
  });

  const spawnRole = async (role: 'api' | 'worker') => {
    const p = await spawnAegle({ ...base, role });
    processes.push(p);
    return p;
  };

  it('writes exactly one Observation per event', async () => {
    const patients = generatePatients(PATIENTS * 2, 99, new Date(), 'chaos')
      .filter((p) => eligible(p.profile))
      .slice(0, PATIENTS);
    for (const p of patients) await ehr.seed(chartTransaction(p) as never);
    const focus: fhir4.Resource[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const p = patients[i % patients.length].profile;
      focus.push((await ehr.seed(cholesterolResult(p, new Date(Date.now() - i * 60_000).toISOString())))[0]);
    }

    // Count results as they land, and wake the test at chosen points.
    const written: string[] = [];
    const waiters: Array<{ at: number; resolve: () => void }> = [];
    ehr.onWrite((resource) => {
      const o = resource as fhir4.Observation;
      if (o.resourceType !== 'Observation' || o.code?.coding?.[0]?.code !== RISK_CODE) return;
      written.push(o.id!);
      for (const w of waiters.filter((w) => written.length >= w.at)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
    const whenWritten = (at: number) =>
      new Promise<void>((resolve) => (written.length >= at ? resolve() : waiters.push({ at, resolve })));

    const api = await spawnRole('api');
    let workers = [await spawnRole('worker'), await spawnRole('worker')];

    // The EHR's side: every notification is retried until Aegle answers 200, as a rest-hook sender does.
    let refused = 0;
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
              refused++;
            }
          }
        }),
      );
    })();

    const killWorker = async (index: number) => {
      const victim = workers[index];
      victim.child.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');
      workers = workers.map((w, i) => (i === index ? w : w));
      workers[index] = await spawnRole('worker');
    };

    await whenWritten(Math.floor(EVENTS * 0.2));
    await killWorker(0);
    await whenWritten(Math.floor(EVENTS * 0.4));
    await redis.stop(); // every queued job is gone with it
    await redis.start();
    await whenWritten(Math.floor(EVENTS * 0.6));
    await killWorker(1);
    await sender;
    await whenWritten(EVENTS);

    // Exactly one result per event in the EHR, and the audit trail agrees.
    const bundle = (await (
      await fetch(`${ehr.baseUrl}/Observation?code=http://loinc.org|${RISK_CODE}&_count=${EVENTS * 2}`)
    ).json()) as fhir4.Bundle;
    const results = (bundle.entry ?? []).map((e) => e.resource as fhir4.Observation);
    expect(results).toHaveLength(EVENTS);
    const identifiers = new Set(results.map((o) => o.identifier?.[0]?.value));
    expect(identifiers.size).toBe(EVENTS);

    const db = new Client({ connectionString: database.url });
    await db.connect();
    try {
      const events = await db.query<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM event GROUP BY status`,
      );
      expect(events.rows).toEqual([{ status: 'routed', n: String(EVENTS) }]);
      const runs = await db.query<{ outcome: string; n: string }>(
        `SELECT outcome, count(*) AS n FROM plugin_run GROUP BY outcome`,
      );
      expect(runs.rows).toEqual([{ outcome: 'succeeded', n: String(EVENTS) }]);
      const created = await db.query<{ resource_id: string }>(
        `SELECT resource_id FROM write_back WHERE outcome = 'created'`,
      );
      expect(new Set(created.rows.map((r) => r.resource_id))).toEqual(new Set(results.map((o) => o.id)));
    } finally {
      await db.end();
    }
    process.stdout.write(
      `chaos: ${EVENTS} events, ${refused} notifications refused and resent, ${written.length} results written\n`,
    );
  });
});

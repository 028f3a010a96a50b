// npm run bench:audit: audited plugin runs per second (hash chain) against plain inserts of the same
// rows, in the same run, on a fresh database. Each run is what the run processor records: the run
// opened, then completed with its inputs and outputs.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadConfig } from '@aegle/config';
import {
  AUDIT_ENTITIES,
  AUDIT_MIGRATIONS,
  AuditChain,
  EventRepository,
  PluginRunEntity,
  PluginRunRepository,
  RunCompletion,
  RunIdentity,
  verifyAuditChain,
} from '@aegle/store';

const BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUNS = Number(process.env.BENCH_RUNS ?? 3000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const completion: RunCompletion = {
  outcome: 'succeeded',
  patientRef: 'Patient/bench',
  inputs: {
    age: { value: 55 },
    totalCholesterol: { value: 213, unit: 'mg/dL', source: { reference: 'Observation/tc/_history/1' } },
    hdlCholesterol: { value: 50, unit: 'mg/dL', source: { reference: 'Observation/hdl/_history/1' } },
    systolicBp: { value: 120, unit: 'mm[Hg]', source: { reference: 'Observation/bp/_history/1' } },
  },
  outputs: { raw: { risk: [0.021] }, findings: [{ code: { code: '79423-0' }, value: 2.1, unit: '%' }] },
  executionProvider: 'cpu',
  latencyMs: 1.2,
};

/** Runs `count` jobs with at most IN_FLIGHT at once; returns jobs per second. */
async function throughput(count: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) await job(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const name = `aegle_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const db = new DataSource({
    type: 'postgres',
    url: url.toString(),
    entities: AUDIT_ENTITIES,
    migrations: AUDIT_MIGRATIONS,
    extra: { max: 10 },
  });
  try {
    await db.initialize();
    await db.runMigrations();
    const chain = new AuditChain(db);
    const {
      accepted: [eventId],
    } = await new EventRepository(db, chain).record(
      {
        sourceId: 'bench',
        shape: 'rest-hook-resource',
        contentType: 'application/fhir+json',
        bodySha256: '0'.repeat(64),
        bodyBytes: 0,
        headers: {},
        httpStatus: 200,
        error: null,
      },
      [
        {
          subscription: null,
          topic: null,
          eventNumber: null,
          interaction: 'create',
          focusType: 'Observation',
          focusId: 'x',
          focusVersion: null,
          resource: null,
          dedupKey: 'bench',
        },
      ],
    );
    const config = loadConfig(
      {},
      {
        sources: [
          { id: 'bench', fhirBaseUrl: 'http://127.0.0.1/fhir', inbound: { bearerToken: 'bench-token' } },
        ],
      },
    );
    const audited = new PluginRunRepository(db, chain, config);
    const plain = db.getRepository(PluginRunEntity);
    const identity = (mode: string, round: number, i: number): RunIdentity => ({
      eventId,
      sourceId: 'bench',
      pluginId: `bench-${mode}`,
      pluginVersion: `${round}.0.${i}`,
      modelSha256: 'a'.repeat(64),
    });

    const chained: number[] = [];
    const plainRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      plainRates.push(
        await throughput(RUNS, async (i) => {
          const inserted = await plain.insert(identity('plain', round, i));
          const id = inserted.identifiers[0].id as string;
          await plain.update(
            { id },
            {
              ...completion,
              reason: null,
              finishedAt: () => 'now()',
            },
          );
        }),
      );
      chained.push(
        await throughput(RUNS, async (i) => {
          const id = await audited.open(identity('audited', round, i));
          await audited.complete(id, completion);
        }),
      );
    }
    // The plain rows are outside the chain by design; the audited ones must verify.
    await db.query(`DELETE FROM plugin_run WHERE plugin_id = 'bench-plain'`);
    const report = await verifyAuditChain(db);
    if (!report.valid) throw new Error(`the chain does not verify: ${report.firstBroken?.problem}`);

    const a = median(chained);
    const p = median(plainRates);
    const fmt = (values: number[]) => values.map((v) => v.toFixed(0)).join(', ');
    process.stdout.write(
      [
        `audit bench: ${RUNS} runs x ${ROUNDS} rounds, ${IN_FLIGHT} in flight, pool 10 (each run: opened + completed)`,
        `  plain inserts   : median ${p.toFixed(0)} runs/s  [${fmt(plainRates)}]`,
        `  audited (chain) : median ${a.toFixed(0)} runs/s  [${fmt(chained)}]  (${report.entriesChecked} chain entries, verified)`,
        `  ratio audited/plain: ${(a / p).toFixed(2)}x   (floors: >= 2000 runs/s and >= 0.5x)`,
        '',
      ].join('\n'),
    );
  } finally {
    if (db.isInitialized) await db.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

/**
 * The stack floor for `npm run bench:e2e`: the same journey per event as Aegle's, built from the
 * same parts with none of Aegle's own code in between (but for the plugin SDK's Provenance builder, a
 * pure function, so the EHR gets Aegle's shape), so the bench can show, in one run, how much of
 * Aegle's cost per event the chosen parts and the design's round trips already take.
 *
 * Per event, as Aegle's loop does it (two processes, like ROLE=api and ROLE=worker):
 * - api: NestJS on Fastify receives the notification, stores it (one INSERT) and adds a BullMQ job;
 * - worker: a BullMQ job marks it routed (one UPDATE) and adds a run job; the run job reads the
 *   patient's data in one fhir-kit-client `batch` (the searches Aegle's batch holds for PCE, as
 *   Aegle words them), runs the PCE ONNX model on onnxruntime-node, writes the Observation and its
 *   Provenance, shaped as Aegle's, and supersedes the patient's earlier result (version-checked) in
 *   one fhir-kit-client `transaction`, and records the run (INSERT) and the write-back (INSERT).
 * That is 4 SQL round trips, 2 queue hops and 2 FHIR requests per event, with TypeORM on pg. What
 * it leaves out is what Aegle adds: checking and ordering events, the audit hash chain, plugins'
 * input rules and validation, retries and exactly-once bookkeeping, pacing, logging and metrics.
 *
 * Run by bench/e2e.ts (`--no-floor` skips it); `node -r @swc-node/register bench/stack-floor.ts api|worker`
 * is how it starts each role.
 */
import { fork, ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Job, Queue, Worker } from 'bullmq';
import Client from 'fhir-kit-client';
import * as ort from 'onnxruntime-node';
import { DataSource } from 'typeorm';
import { buildProvenance } from '@aegle/plugin-sdk/engine';

const EVENTS = 'floor-events';
const RUNS = 'floor-runs';
const RISK_CODE = '79423-0';
const RESULT_SYSTEM = 'urn:aegle:stack-floor:result';

interface FloorEnv {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  ehrBaseUrl: string;
}

export interface StackFloor {
  /** Where notifications go: `${url}/fhir/notify/bench`. */
  url: string;
  /** The api process first, then the worker. */
  processes: Array<{ pid: number; metricsUrl: string }>;
  stop(): Promise<void>;
}

/** Starts the floor's api and worker processes; their tables are made in `databaseUrl` first. */
export async function startStackFloor(env: FloorEnv): Promise<StackFloor> {
  const db = await dataSource(env.databaseUrl);
  await db.query(`CREATE TABLE IF NOT EXISTS floor_event (
      id uuid PRIMARY KEY, source_id text NOT NULL, patient_ref text, focus_id text,
      status text NOT NULL DEFAULT 'accepted', resource jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE IF NOT EXISTS floor_run (
      id uuid PRIMARY KEY, event_id uuid NOT NULL REFERENCES floor_event(id), outputs jsonb,
      created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE IF NOT EXISTS floor_write_back (
      id uuid PRIMARY KEY, run_id uuid NOT NULL REFERENCES floor_run(id), resource_id text, http_status int,
      created_at timestamptz NOT NULL DEFAULT now())`);
  await db.destroy();
  const children: ChildProcess[] = [];
  const started: Array<{ pid: number; port: number }> = [];
  try {
    for (const role of ['api', 'worker']) {
      const child = fork(__filename, [role], {
        execArgv: ['-r', '@swc-node/register'],
        env: { ...process.env, FLOOR_ENV: JSON.stringify(env) },
      });
      children.push(child);
      const [message] = (await Promise.race([
        once(child, 'message'),
        once(child, 'exit').then(() => {
          throw new Error(`the stack floor's ${role} process exited before it was ready`);
        }),
      ])) as [{ port: number }];
      started.push({ pid: child.pid!, port: message.port });
    }
  } catch (error) {
    for (const child of children) child.kill();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${started[0].port}`,
    processes: started.map(({ pid, port }) => ({ pid, metricsUrl: `http://127.0.0.1:${port}` })),
    async stop() {
      await Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          await once(child, 'exit');
        }),
      );
    },
  };
}

/** TypeORM on pg, as Aegle's store uses them, counting statements as `aegle_db_statements_total` does. */
let statements = 0;
async function dataSource(url: string): Promise<DataSource> {
  const db = new DataSource({ type: 'postgres', url, poolSize: 10 });
  await db.initialize();
  return db;
}
async function sql(db: DataSource, text: string, values: unknown[]): Promise<unknown> {
  statements++;
  return db.query(text, values);
}

/** `GET /metrics` with the statement counter, for the bench's cost meter. */
async function metricsServer(): Promise<number> {
  const server = createServer((_, res) => res.end(`aegle_db_statements_total ${statements}\n`));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

async function api(env: FloorEnv): Promise<void> {
  const db = await dataSource(env.databaseUrl);
  const events = new Queue(EVENTS, { connection: { url: env.redisUrl }, prefix: env.prefix });

  @Controller('fhir/notify')
  class NotifyController {
    @Post(':sourceId')
    @HttpCode(200)
    async notify(@Param('sourceId') sourceId: string, @Body() resource: fhir4.Observation) {
      const id = randomUUID();
      await sql(
        db,
        'INSERT INTO floor_event (id, source_id, patient_ref, focus_id, resource) VALUES ($1, $2, $3, $4, $5)',
        [id, sourceId, resource.subject?.reference ?? null, resource.id, JSON.stringify(resource)],
      );
      await events.add('event', { id }, { removeOnComplete: true });
      return {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'information', code: 'informational', diagnostics: 'accepted 1 event(s)' }],
      };
    }
  }

  @Module({ controllers: [NotifyController] })
  class FloorModule {}

  const adapter = new FastifyAdapter();
  // FHIR's media type, parsed by Fastify's own JSON parser.
  const fastify = adapter.getInstance();
  fastify.addContentTypeParser(
    'application/fhir+json',
    { parseAs: 'string' },
    fastify.getDefaultJsonParser('ignore', 'ignore'),
  );
  const app = await NestFactory.create<NestFastifyApplication>(FloorModule, adapter, {
    logger: ['warn', 'error'],
  });
  // The statement counter, where the bench's cost meter reads Aegle's.
  app.getHttpAdapter().get('/metrics', (_, reply) => reply.send(`aegle_db_statements_total ${statements}\n`));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
  process.send!({ port });
}

/** The searches Aegle's batch holds for PCE (its inputs, its exclusions, the earlier results), as sent. */
function patientSearches(patientId: string, now: Date): string[] {
  const since = (years: number) =>
    new Date(Date.UTC(now.getUTCFullYear() - years, now.getUTCMonth(), now.getUTCDate()))
      .toISOString()
      .slice(0, 10);
  const observation = (codes: string[], years: number) =>
    `Observation?${new URLSearchParams({
      patient: patientId,
      code: codes.map((c) => `http://loinc.org|${c}`).join(','),
      _sort: '-date',
      _count: '50',
      date: `ge${since(years)}`,
    }).toString()}`;
  return [
    `Patient?_id=${patientId}`,
    observation(['2093-3', '14647-2'], 2),
    observation(['2085-9', '14646-4'], 2),
    observation(['8480-6', '85354-9'], 1),
    `MedicationStatement?patient=${patientId}&status=active`,
    `MedicationRequest?patient=${patientId}&status=active`,
    observation(['72166-2'], 2),
    `Condition?patient=${patientId}&clinical-status=active%2Crecurrence%2Crelapse`,
    `Condition?patient=${patientId}`,
    observation(['13457-7', '18262-6', '2089-1', '22748-8', '39469-2'], 2),
    `Observation?${new URLSearchParams({ subject: `Patient/${patientId}`, code: `http://loinc.org|${RISK_CODE}`, _count: '100' }).toString()}`,
  ];
}

const SUPERSEDED_BY = 'urn:aegle:stack-floor:superseded-by';
const versioned = (r: fhir4.Resource) => ({
  reference: `${r.resourceType}/${r.id}${r.meta?.versionId ? `/_history/${r.meta.versionId}` : ''}`,
});

async function worker(env: FloorEnv): Promise<void> {
  const db = await dataSource(env.databaseUrl);
  const connection = { url: env.redisUrl };
  const runs = new Queue(RUNS, { connection, prefix: env.prefix });
  const ehr = new Client({ baseUrl: env.ehrBaseUrl });
  const session = await ort.InferenceSession.create(
    resolve(__dirname, '../plugins/prognosis-ascvd-pce/model.onnx'),
    { executionProviders: ['cpu'] },
  );
  const requestOptions = () => ({ signal: AbortSignal.timeout(30_000), headers: {} });
  // The model's Device, made once as Aegle makes it once per process.
  const device = (await ehr.create({
    resourceType: 'Device',
    body: {
      resourceType: 'Device',
      deviceName: [{ name: '10-year ASCVD risk (2013 ACC/AHA Pooled Cohort Equations)', type: 'model-name' }],
      version: [{ value: '1.0.0' }],
    },
    options: requestOptions(),
  })) as fhir4.Device;

  const route = async (job: Job<{ id: string }>) => {
    const [row] = (await sql(
      db,
      "UPDATE floor_event SET status = 'routed' WHERE id = $1 RETURNING patient_ref, focus_id",
      [job.data.id],
    )) as [Array<{ patient_ref: string; focus_id: string }>, number];
    const [event] = row;
    await runs.add(
      'run',
      { eventId: job.data.id, patientId: event.patient_ref.replace('Patient/', ''), focusId: event.focus_id },
      { removeOnComplete: true },
    );
  };

  const run = async (job: Job<{ eventId: string; patientId: string; focusId: string }>) => {
    const { eventId, patientId } = job.data;
    const now = new Date();
    const read = (await ehr.batch({
      body: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: patientSearches(patientId, now).map((url) => ({ request: { method: 'GET', url } })),
      },
      options: requestOptions(),
    })) as fhir4.Bundle;
    const found = (read.entry ?? []).map((e) =>
      ((e.resource as fhir4.Bundle | undefined)?.entry ?? []).map((m) => m.resource!),
    );
    // The newest value of a search, or a typical one (a blood pressure panel has its value in a component).
    const value = (i: number, typical: number) =>
      (found[i]?.[0] as fhir4.Observation | undefined)?.valueQuantity?.value || typical;
    const features = [60, value(1, 200), value(2, 50), value(3, 130), 0, 0, 0, 1, 0];
    const output = await session.run({
      features: new ort.Tensor('float64', Float64Array.from(features), [1, features.length]),
    });
    const risk = Number((output.risk.data as Float64Array)[0]);
    const runId = randomUUID();
    await sql(db, 'INSERT INTO floor_run (id, event_id) VALUES ($1, $2)', [runId, eventId]);

    // The result as Aegle writes it: the Observation, its Provenance, and the earlier result it
    // supersedes (version-checked), in one transaction.
    const observationUrl = `urn:uuid:${randomUUID()}`;
    const inputs = [found[1], found[2], found[3]].flatMap((matches) => matches.slice(0, 1));
    const earlier = (found[10] as fhir4.Observation[]).filter(
      (o) =>
        o.identifier?.some((i) => i.system === RESULT_SYSTEM) &&
        !o.extension?.some((e) => e.url === SUPERSEDED_BY),
    );
    const code = {
      system: 'http://loinc.org',
      code: RISK_CODE,
      display: 'Cardiovascular disease 10Y risk [Likelihood] ACC-AHA Pooled Cohort by Goff 2013',
    };
    const observation: fhir4.Observation = {
      resourceType: 'Observation',
      meta: {
        security: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
            code: 'AIAST',
            display: 'Artificial Intelligence asserted',
          },
        ],
        tag: [
          {
            system: 'urn:aegle:stack-floor:plugin',
            code: 'prognosis-ascvd-pce',
            display: '10-year ASCVD risk (2013 ACC/AHA Pooled Cohort Equations)',
          },
        ],
      },
      identifier: [{ system: RESULT_SYSTEM, value: runId }],
      status: 'preliminary',
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/observation-category',
              code: 'survey',
              display: 'Survey',
            },
          ],
        },
      ],
      code: { coding: [code], text: code.display },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: now.toISOString(),
      issued: new Date().toISOString(),
      valueQuantity: {
        value: Math.round(risk * 1000) / 10,
        unit: '%',
        system: 'http://unitsofmeasure.org',
        code: '%',
      },
      interpretation: [{ text: 'Borderline 10-year ASCVD risk (5% to <7.5%)' }],
      method: { text: '2013 ACC/AHA Pooled Cohort Equations (Goff et al., Circulation 2014)' },
      device: {
        reference: `Device/${device.id}`,
        display: '10-year ASCVD risk (2013 ACC/AHA Pooled Cohort Equations) 1.0.0',
      },
      derivedFrom: [{ reference: `Observation/${job.data.focusId}` }, ...inputs.map(versioned)],
      note: [
        {
          text: 'Computed by 10-year ASCVD risk (2013 ACC/AHA Pooled Cohort Equations), an AI/statistical model. Decision support, not reviewed by a clinician.',
        },
      ],
      extension: earlier.map((o) => ({
        url: 'http://hl7.org/fhir/StructureDefinition/observation-replaces',
        valueReference: { reference: `Observation/${o.id}` },
      })),
    };
    // The SDK's builder: the shape Aegle writes, so the FHIR server does the same work.
    const provenance = buildProvenance({
      target: observationUrl,
      recorded: new Date().toISOString(),
      device: `Device/${device.id}`,
      organization: 'stack floor',
      sources: [found[0][0], ...inputs].filter(Boolean).map((r) => versioned(r).reference),
    });
    const written = (await ehr.transaction({
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: observationUrl,
            resource: observation,
            request: {
              method: 'POST',
              url: 'Observation',
              ifNoneExist: `identifier=${RESULT_SYSTEM}|${runId}`,
            },
          },
          {
            fullUrl: `urn:uuid:${randomUUID()}`,
            resource: provenance,
            request: { method: 'POST', url: 'Provenance', ifNoneExist: `target=${observationUrl}` },
          },
          ...earlier.map((o) => ({
            fullUrl: `Observation/${o.id}`,
            resource: {
              ...o,
              status: 'amended' as const,
              extension: [
                ...(o.extension ?? []),
                { url: SUPERSEDED_BY, valueReference: { reference: observationUrl } },
              ],
            },
            request: {
              method: 'PUT' as const,
              url: `Observation/${o.id}`,
              ...(o.meta?.versionId ? { ifMatch: `W/"${o.meta.versionId}"` } : {}),
            },
          })),
        ],
      },
      options: { ...requestOptions(), headers: { prefer: 'return=minimal' } },
    })) as fhir4.Bundle;
    const location = written.entry?.[0]?.response?.location ?? '';
    await sql(
      db,
      'INSERT INTO floor_write_back (id, run_id, resource_id, http_status) VALUES ($1, $2, $3, $4)',
      [randomUUID(), runId, location, Number.parseInt(written.entry?.[0]?.response?.status ?? '0', 10)],
    );
  };

  // Concurrency as Aegle's worker runs its router (16) and its plugin runs (32).
  const workers = [
    new Worker(EVENTS, route, { connection, prefix: env.prefix, concurrency: 16 }),
    new Worker(RUNS, run, { connection, prefix: env.prefix, concurrency: 32 }),
  ];
  // A failed job would leave the bench waiting for a result: say so (the status, not the data).
  for (const w of workers)
    w.on('failed', (_, error: Error & { response?: { status?: number } }) =>
      process.stderr.write(`stack floor: a job failed (${error.response?.status ?? error.message})\n`),
    );
  const port = await metricsServer();
  process.once(
    'SIGTERM',
    () =>
      void Promise.all(workers.map((w) => w.close()))
        .then(() => Promise.all([runs.close(), db.destroy(), session.release()]))
        .finally(() => process.exit(0)),
  );
  process.send!({ port });
}

if (require.main === module) {
  const env = JSON.parse(process.env.FLOOR_ENV ?? '{}') as FloorEnv;
  const role = process.argv[2];
  (role === 'api' ? api(env) : worker(env)).catch((error: unknown) => {
    process.stderr.write(`stack floor ${role}: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}

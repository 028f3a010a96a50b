import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AegleConfig, loadConfig } from '@aegle/config';
import {
  AdminActionRepository,
  AUDIT_ENTITIES,
  AUDIT_MIGRATIONS,
  AuditChain,
  AuditRetention,
  FailedJobRepository,
  EventRepository,
  PluginRunRepository,
  WriteBackRepository,
} from '@aegle/store';
import { createTestDatabase, TestDatabase } from './aegle-app';

/** The audit library wired by hand over a real PostgreSQL database, as the app wires it. */
export interface AuditStore {
  db: DataSource;
  chain: AuditChain;
  events: EventRepository;
  runs: PluginRunRepository;
  writeBacks: WriteBackRepository;
  failedJobs: FailedJobRepository;
  adminActions: AdminActionRepository;
  retention: AuditRetention;
  close(): Promise<void>;
}

export function auditConfig(audit: Record<string, unknown> = {}): AegleConfig {
  return loadConfig(
    {},
    {
      sources: [
        { id: 'test-ehr', fhirBaseUrl: 'http://127.0.0.1:1/fhir', inbound: { bearerToken: 'x'.repeat(12) } },
      ],
      audit,
    },
  );
}

export async function connectAuditStore(url: string, config = auditConfig()): Promise<AuditStore> {
  const db = new DataSource({
    type: 'postgres',
    url,
    entities: AUDIT_ENTITIES,
    migrations: AUDIT_MIGRATIONS,
    synchronize: false,
    extra: { max: 10 },
  });
  await db.initialize();
  await db.runMigrations({ transaction: 'each' });
  const chain = new AuditChain(db);
  return {
    db,
    chain,
    events: new EventRepository(db, chain),
    runs: new PluginRunRepository(db, chain, config),
    writeBacks: new WriteBackRepository(db, chain),
    failedJobs: new FailedJobRepository(db, chain),
    adminActions: new AdminActionRepository(chain),
    retention: new AuditRetention(db, chain),
    close: () => db.destroy(),
  };
}

/** A fresh database with the audit schema migrated. */
export async function createAuditStore(
  config?: AegleConfig,
): Promise<AuditStore & { database: TestDatabase }> {
  const database = await createTestDatabase();
  const store = await connectAuditStore(database.url, config);
  return {
    ...store,
    database,
    close: async () => {
      await store.close();
      await database.drop();
    },
  };
}

/** One whole audited story: notification → event → run (opened, completed) → write-back. */
export async function recordStory(
  store: Pick<AuditStore, 'events' | 'runs' | 'writeBacks'>,
  options: { patient?: string; plugin?: string; source?: string } = {},
): Promise<{ notificationId: string; eventId: string; runId: string; writeBackId: string }> {
  const source = options.source ?? 'test-ehr';
  const patient = options.patient ?? `Patient/p-${randomBytes(3).toString('hex')}`;
  const focusId = `obs-${randomUUID()}`;
  const { notificationId, accepted } = await store.events.record(
    {
      sourceId: source,
      shape: 'rest-hook-resource',
      contentType: 'application/fhir+json',
      bodySha256: randomBytes(32).toString('hex'),
      bodyBytes: 321,
      headers: { 'content-type': 'application/fhir+json' },
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
        focusId,
        focusVersion: '1',
        resource: null,
        dedupKey: `${source}|Observation/${focusId}/_history/1`,
      },
    ],
  );
  const eventId = accepted[0];
  const runId = await store.runs.open({
    eventId,
    sourceId: source,
    pluginId: options.plugin ?? 'prognosis-ascvd-pce',
    pluginVersion: '1.0.0',
    modelSha256: 'a'.repeat(64),
  });
  await store.runs.complete(runId, {
    outcome: 'succeeded',
    patientRef: patient,
    inputs: {
      totalCholesterol: {
        value: 213,
        unit: 'mg/dL',
        source: { reference: `Observation/${focusId}/_history/1` },
      },
    },
    outputs: { findings: [{ code: { code: '79423-0' }, value: 2.1 }] },
    executionProvider: 'cpu',
    latencyMs: 1.5,
  });
  const writeBackId = await store.writeBacks.record({
    runId,
    sourceId: source,
    resourceType: 'Observation',
    resourceId: `risk-${randomUUID()}`,
    identifier: randomUUID(),
    attempt: 1,
    httpStatus: 201,
    outcome: 'created',
    response: null,
  });
  return { notificationId, eventId, runId, writeBackId };
}

import { getQueueToken } from '@nestjs/bullmq';
import { INestApplication } from '@nestjs/common';
import { Queue, QueueEvents } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AegleConfig, loadConfig } from '@aegle/config';
import { QUEUES, redisConnection } from '@aegle/workflow';
import { createApp } from '../../apps/engine/src/app';

/** PostgreSQL the tests use: the machine's server (CI starts it), one fresh database per test file. */
export const TEST_POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `aegle_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface TestSource {
  id: string;
  fhirBaseUrl: string;
  bearerToken?: string;
  hmacSecret?: string;
  /** Outbound auth as in the config file; default none. */
  auth?: Record<string, unknown>;
  /** Write-back settings as in the config file (e.g. short backoff for tests). */
  writeBack?: Record<string, unknown>;
  auditEvents?: boolean;
  /** The source's `subscription` settings (criteria, topic, eventsOperation, heartbeatSeconds…). */
  subscription?: Record<string, unknown>;
}

export interface RunningAegle {
  url: string;
  app: INestApplication;
  config: AegleConfig;
  db: DataSource;
  /** Resolves once every queue is empty: all events routed, runs finished and results written. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the real app (real PostgreSQL, Redis, onnxruntime) on a random port with its own queues. */
export async function startAegle(options: {
  sources: TestSource[];
  pluginDirs?: string[];
  /** Rollout, limits and npm packages of plugins (see libs/config). */
  plugins?: Partial<Omit<AegleConfig['plugins'], 'dirs'>>;
  /** Where the config file would be: npm plugin packages resolve from its folder. */
  configPath?: string;
  adminToken?: string;
  /** The `audit` block of the config file. */
  audit?: Record<string, unknown>;
  /** Another Redis (e.g. one a test stops and starts); default TEST_REDIS_URL. */
  redisUrl?: string;
  /** The `intake` config section (maxBodyBytes, publicUrl). */
  intake?: Record<string, unknown>;
}): Promise<RunningAegle> {
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const database = await createTestDatabase();
  const prefix = `aegle-test-${randomBytes(4).toString('hex')}`;
  const config = loadConfig(
    {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      AEGLE_QUEUE_PREFIX: prefix,
      ...(options.adminToken ? { AEGLE_ADMIN_TOKEN: options.adminToken } : {}),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      ...(options.configPath ? { AEGLE_CONFIG: options.configPath } : {}),
      ...(options.adminToken ? { AEGLE_ADMIN_TOKEN: options.adminToken } : {}),
    },
    {
      sources: options.sources.map((s) => ({
        id: s.id,
        fhirBaseUrl: s.fhirBaseUrl,
        auth: s.auth ?? { type: 'none' },
        ...(s.writeBack ? { writeBack: s.writeBack } : {}),
        ...(s.auditEvents ? { auditEvents: true } : {}),
        inbound: {
          ...(s.bearerToken ? { bearerToken: s.bearerToken } : {}),
          ...(s.hmacSecret ? { hmacSecret: s.hmacSecret } : {}),
        },
        ...(s.subscription ? { subscription: s.subscription } : {}),
      })),
      plugins: { dirs: options.pluginDirs ?? ['plugins'], ...options.plugins },
      ...(options.audit ? { audit: options.audit } : {}),
      ...(options.intake ? { intake: options.intake } : {}),
    },
  );
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const queues = Object.values(QUEUES).map((name) => app.get<Queue>(getQueueToken(name)));
  const events = Object.values(QUEUES).map(
    (name) => new QueueEvents(name, { connection: redisConnection(redisUrl), prefix }),
  );
  await Promise.all(events.map((e) => e.waitUntilReady()));

  const pending = async () => {
    const counts = await Promise.all(
      queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')),
    );
    return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
  };
  /** The next job completion or failure on any queue (or a short guard, should an event be missed). */
  const nextQueueEvent = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(guard);
        for (const e of events)
          for (const name of ['completed', 'failed', 'drained'] as const) e.off(name, done);
        resolve();
      };
      const guard = setTimeout(done, 200);
      for (const e of events)
        for (const name of ['completed', 'failed', 'drained'] as const) e.on(name, done);
    });

  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    config,
    db: app.get(DataSource),
    async waitForIdle(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while ((await pending()) > 0) {
        if (Date.now() > deadline) throw new Error(`queues still busy after ${timeoutMs} ms`);
        await nextQueueEvent();
      }
    },
    async close() {
      await Promise.all(events.map((e) => e.close()));
      await app.close();
      const cleaner = Object.values(QUEUES).map(
        (name) => new Queue(name, { connection: redisConnection(redisUrl), prefix }),
      );
      await Promise.all(cleaner.map((q) => q.obliterate({ force: true }).finally(() => q.close())));
      await database.drop();
    },
  };
}

import { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AegleConfig, loadConfig } from '@aegle/config';
import { createApp } from '../../apps/engine/src/app';
import { watchQueues } from './queue-watch';

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
  /** Extra environment, e.g. ROLE or AEGLE_WORKER_EXECUTION. */
  env?: Record<string, string>;
}): Promise<RunningAegle> {
  const database = await createTestDatabase();
  const prefix = `aegle-test-${randomBytes(4).toString('hex')}`;
  const config = loadConfig(
    {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      AEGLE_QUEUE_PREFIX: prefix,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      ...options.env,
    },
    {
      sources: options.sources.map((s) => ({
        id: s.id,
        fhirBaseUrl: s.fhirBaseUrl,
        auth: { type: 'none' },
        inbound: {
          ...(s.bearerToken ? { bearerToken: s.bearerToken } : {}),
          ...(s.hmacSecret ? { hmacSecret: s.hmacSecret } : {}),
        },
      })),
      plugins: { dirs: options.pluginDirs ?? ['plugins'] },
    },
  );
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const watch = await watchQueues(TEST_REDIS_URL, prefix);

  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    config,
    db: app.get(DataSource),
    waitForIdle: (timeoutMs?: number) => watch.waitForIdle(timeoutMs),
    async close() {
      await app.close();
      await watch.obliterate();
      await watch.close();
      await database.drop();
    },
  };
}

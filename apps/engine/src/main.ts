import 'reflect-metadata';
import { ConfigError, loadConfig } from '@aegle/config';
import { createApp } from './app';
import { startEmbeddedPostgres } from './bootstrap/embedded-postgres';
import { assertRedisReachable } from './bootstrap/redis-check';
import { installGracefulShutdown } from './lifecycle/graceful-shutdown';

async function main(): Promise<void> {
  const config = loadConfig();
  await assertRedisReachable(config.redisUrl);
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(config.dataDir, (m) => process.stderr.write(`${m}\n`));
  if (embedded) {
    config.databaseUrl = embedded.url;
    process.stderr.write(
      `DATABASE_URL is not set: using an embedded PostgreSQL with its data in ${config.dataDir}\n`,
    );
  }
  const app = await createApp(config);
  // The app closes its pool first; the embedded server stops after.
  installGracefulShutdown(app, {
    timeoutMs: config.shutdownTimeoutMs,
    after: embedded && (() => embedded.stop()),
    log: (message) => process.stderr.write(`${message}\n`),
  });
  await app.listen(config.port, '0.0.0.0');
  const address = app.getHttpServer().address() as { port: number };
  process.stderr.write(
    `Aegle (role ${config.role}) is listening on http://127.0.0.1:${address.port} (health: /health)\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `\n${error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error)}\n\n`,
  );
  process.exit(1);
});

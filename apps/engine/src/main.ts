import 'reflect-metadata';
import { ConfigError, loadConfig } from '@aegle/config';
import { createApp } from './app';
import { startEmbeddedPostgres } from './bootstrap/embedded-postgres';
import { assertRedisReachable } from './bootstrap/redis-check';

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
  if (embedded) {
    // Nest's shutdown hooks close the pool first; the embedded server stops after.
    const stop = () => void app.close().finally(() => embedded.stop().finally(() => process.exit(0)));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  await app.listen(config.port, '0.0.0.0');
  process.stderr.write(`Aegle is listening on http://127.0.0.1:${config.port} (health: /health)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `\n${error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error)}\n\n`,
  );
  process.exit(1);
});

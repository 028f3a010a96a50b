import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { AegleConfig } from '@aegle/config';

/**
 * Start-up mistakes, found before the app is built: each one is a single message that says what is
 * wrong, where the setting came from and how to fix it, instead of a retry loop or a raw error later.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Every folder in `plugins.dirs` exists (a typo would otherwise load no plugin, silently). */
export function assertPluginDirs(config: Pick<AegleConfig, 'plugins' | 'configPath'>): void {
  for (const dir of config.plugins.dirs) {
    const path = resolve(dir);
    if (existsSync(path) && statSync(path).isDirectory()) continue;
    throw new StartupError(
      `plugins.dirs in ${config.configPath}: "${dir}" (${path}) is not a folder. ` +
        `Fix the path (relative paths start at the working directory, ${process.cwd()}) or remove it.`,
    );
  }
}

/** PORT is free (port 0 always is): said before the app starts, not as EADDRINUSE after. */
export function assertPortFree(port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      fail(
        error.code === 'EADDRINUSE'
          ? portInUse(port)
          : new StartupError(
              `PORT=${port}: cannot listen (${error.code ?? error.message}). Set PORT to another port.`,
            ),
      ),
    );
    server.listen(port, '0.0.0.0', () => server.close(() => done()));
  });
}

export function portInUse(port: number): StartupError {
  return new StartupError(
    `PORT=${port} is already in use (another Aegle, or another program). ` +
      `Stop it (e.g. find it with: ss -ltnp 'sport = :${port}') or set PORT to a free port.`,
  );
}

/** DATABASE_URL without its password, for messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/** DATABASE_URL answers within seconds, or start-up stops with why (not after the ORM's retries). */
export async function assertDatabaseReachable(url: string, timeoutMs = 5000): Promise<void> {
  const shown = redactDatabaseUrl(url);
  const fix =
    'Fix DATABASE_URL (postgres://user:password@host:5432/database), or unset it to use the embedded PostgreSQL.';
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const reason = e.code && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message;
    throw new StartupError(`DATABASE_URL ${shown}: cannot connect to PostgreSQL: ${reason}. ${fix}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

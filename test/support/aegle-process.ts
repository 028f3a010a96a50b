import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { TestSource } from './aegle-app';

const ROOT = resolve(__dirname, '../..');

/** Whether a process with this pid still exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface AegleProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every line the process wrote to stdout and stderr so far. */
  readonly lines: string[];
  /** Resolves with the first line that matches (already written or still to come). */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  sources: TestSource[];
  role?: 'api' | 'worker' | 'all';
  pluginDirs?: string[];
  env?: Record<string, string>;
  /** false: resolve at once, for a start that is meant to fail (read `exited` and `lines`). */
  awaitListening?: boolean;
}

/** Writes the YAML config the process reads, as an operator would. */
export function writeConfig(sources: TestSource[], pluginDirs = [join(ROOT, 'plugins')]): string {
  const dir = mkdtempSync(join(tmpdir(), 'aegle-config-'));
  const path = join(dir, 'aegle.config.yaml');
  writeFileSync(
    path,
    stringify({
      sources: sources.map((s) => ({
        id: s.id,
        fhirBaseUrl: s.fhirBaseUrl,
        auth: { type: 'none' },
        ...(s.pacing ? { pacing: s.pacing } : {}),
        inbound: {
          ...(s.bearerToken ? { bearerToken: s.bearerToken } : {}),
          ...(s.hmacSecret ? { hmacSecret: s.hmacSecret } : {}),
        },
      })),
      plugins: { dirs: pluginDirs },
    }),
  );
  return path;
}

/** The real `main.ts` in a child process (as `npm start` runs it), on a free port. */
export async function spawnAegle(options: SpawnOptions): Promise<AegleProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/engine/src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      AEGLE_QUEUE_PREFIX: options.queuePrefix,
      AEGLE_CONFIG: writeConfig(options.sources, options.pluginDirs),
      ROLE: options.role ?? 'all',
      PORT: '0',
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        for (const listener of listeners) listener(line);
      }
    });
    stream.on('end', () => {
      if (buffer) lines.push(buffer);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );

  const waitForLine = (match: RegExp | ((line: string) => boolean), timeoutMs = 60_000) => {
    const test = typeof match === 'function' ? match : (line: string) => match.test(line);
    const seen = lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolveLine, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(
          new Error(
            `no line matched ${String(match)} within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`,
          ),
        );
      }, timeoutMs);
      const listener = (line: string) => {
        if (!test(line)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolveLine(line);
      };
      listeners.add(listener);
      void exited.then(() => {
        if (!listeners.has(listener)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        reject(
          new Error(
            `the process exited before a line matched ${String(match)}:\n${lines.slice(-20).join('\n')}`,
          ),
        );
      });
    });
  };

  const listening =
    options.awaitListening === false ? '' : await waitForLine(/is listening on http:\/\/127\.0\.0\.1:\d+/);
  const port = /127\.0\.0\.1:(\d+)/.exec(listening)?.[1];
  return {
    url: port ? `http://127.0.0.1:${port}` : '',
    child,
    lines,
    waitForLine,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const result = await exited;
      if (process.env.AEGLE_TEST_ECHO) process.stderr.write(lines.join('\n') + '\n');
      return result;
    },
  };
}

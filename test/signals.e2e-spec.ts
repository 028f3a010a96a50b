import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { TEST_REDIS_URL } from './support/aegle-app';
import { freePort } from './support/ports';
import { processAlive } from './support/aegle-process';
import { lockRepository } from './support/repository-lock';

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '..');

/** Whether something can listen on `port` again (nothing keeps it). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '0.0.0.0', () => server.close(() => done(true)));
  });
}

/** Every process under `pid` (its children, theirs, …), from `ps`. */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=']).toString('utf8').trim().split('\n');
  const children = new Map<number, number[]>();
  for (const row of rows) {
    const [child, parent] = row.trim().split(/\s+/).map(Number);
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  const walk = (p: number) =>
    (children.get(p) ?? []).forEach((c) => {
      found.push(c);
      walk(c);
    });
  walk(pid);
  return found;
}

/**
 * `npm start` as an operator (or a process manager) runs it, on an embedded PostgreSQL: the signal
 * goes to the npm process itself, the one that was started, and must drain Aegle and its database.
 */
describe('npm start: the signal sent to the process that was started', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aegle-signals-'));
  const configDir = mkdtempSync(join(tmpdir(), 'aegle-signals-config-'));
  const config = join(configDir, 'aegle.config.yaml');

  beforeAll(async () => {
    chmodSync(dataDir, 0o755); // as root, the embedded PostgreSQL runs as its own user
    writeFileSync(config, stringify({ sources: [], plugins: { dirs: [join(ROOT, 'plugins')] } }));
    // What `npm start`'s prestart does, less the console (pretest built it): the test runs the build,
    // which compiles plugins/, so not while another test has a plugin of its own there.
    const unlock = await lockRepository('plugins');
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
      execFileSync('npx', ['tsc-alias', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    } finally {
      unlock();
    }
  });

  async function startThroughNpm(): Promise<{ npm: ChildProcess; port: number; output: () => string }> {
    const port = await freePort();
    // --ignore-scripts skips only prestart (the build, done above); `start` itself runs as always.
    const npm = spawn('npm', ['start', '--ignore-scripts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(port),
        AEGLE_CONFIG: config,
        AEGLE_DATA_DIR: dataDir,
        REDIS_URL: TEST_REDIS_URL,
        AEGLE_QUEUE_PREFIX: `aegle-signals-${port}`,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    for (const stream of [npm.stdout!, npm.stderr!]) stream.on('data', (c: Buffer) => (text += c.toString()));
    await new Promise<void>((done, fail) => {
      const timer = setInterval(() => {
        if (/is listening on http:\/\/127\.0\.0\.1:\d+/.test(text)) {
          clearInterval(timer);
          done();
        }
      }, 100);
      npm.once('exit', () => {
        clearInterval(timer);
        fail(new Error(`npm start exited before Aegle listened:\n${text}`));
      });
    });
    return { npm, port, output: () => text };
  }

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s to the npm process drains Aegle and its embedded PostgreSQL, and frees the port',
    async (signal) => {
      const { npm, port, output } = await startThroughNpm();
      const tree = descendants(npm.pid!);
      // Aegle (node) and the embedded PostgreSQL's processes run under npm.
      expect(tree.length).toBeGreaterThanOrEqual(2);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      // Where the embedded database is, for psql or a backup.
      expect(output()).toMatch(
        /DATABASE_URL is not set: using an embedded PostgreSQL at postgres:\/\/aegle:[^@\s]+@127\.0\.0\.1:\d+\/aegle \(data in /,
      );

      const exited = new Promise<number | null>((done) => npm.once('exit', (code) => done(code)));
      npm.kill(signal);
      expect(await exited).toBe(0);
      expect(output()).toContain(`${signal}: shutting down gracefully`);
      expect(output()).toContain('shut down cleanly');
      expect(tree.filter(processAlive)).toEqual([]);
      expect(await portIsFree(port)).toBe(true);
    },
  );
});

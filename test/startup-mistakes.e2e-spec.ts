import { randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:net';
import { join, resolve } from 'node:path';
import { AegleProcess, spawnAegle } from './support/aegle-process';
import { createTestDatabase, TEST_REDIS_URL, TestDatabase } from './support/aegle-app';

jest.setTimeout(60_000);

const ROOT = resolve(__dirname, '..');

/**
 * Each set-up mistake an operator makes at start: one line that says what is wrong, where it came
 * from and how to fix it, and a quick exit 1, before the app is half started.
 */
describe('start-up mistakes', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  async function startFailing(
    options: { databaseUrl?: string; pluginDirs?: string[]; env?: Record<string, string> } = {},
  ): Promise<{ aegle: AegleProcess; code: number | null; seconds: number }> {
    const started = Date.now();
    const aegle = await spawnAegle({
      databaseUrl: options.databaseUrl ?? database.url,
      redisUrl: TEST_REDIS_URL,
      queuePrefix: `aegle-mistakes-${randomBytes(4).toString('hex')}`,
      sources: [],
      pluginDirs: options.pluginDirs,
      env: options.env,
      awaitListening: false,
    });
    const { code } = await aegle.exited;
    return { aegle, code, seconds: (Date.now() - started) / 1000 };
  }

  it('a typo in plugins.dirs: names the setting, the file and the folder it looked for', async () => {
    const { aegle, code } = await startFailing({ pluginDirs: [join(ROOT, 'plugnis')] });
    expect(code).toBe(1);
    expect(aegle.lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^plugins\\.dirs in \\S+aegle\\.config\\.yaml: ".*plugnis" \\(.*plugnis\\) is not a folder\\. Fix the path`,
        ),
      ),
    );
  });

  it('a DATABASE_URL nothing answers at: fails within seconds, says which (without password) and how to fix it', async () => {
    const { aegle, code, seconds } = await startFailing({
      databaseUrl: 'postgres://aegle:s3cret@127.0.0.1:1/aegle',
    });
    expect(code).toBe(1);
    expect(seconds).toBeLessThan(15);
    const line = aegle.lines.find((l) => l.startsWith('DATABASE_URL '));
    expect(line).toMatch(
      /^DATABASE_URL postgres:\/\/aegle:\*\*\*@127\.0\.0\.1:1\/aegle: cannot connect to PostgreSQL: .*ECONNREFUSED.*\. Fix DATABASE_URL .* or unset it to use the embedded PostgreSQL\.$/,
    );
    expect(aegle.lines.join('\n')).not.toContain('s3cret');
  });

  it('a busy port: says so before starting, not EADDRINUSE after "successfully started"', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((done) => blocker.listen(0, '0.0.0.0', done));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { aegle, code } = await startFailing({ env: { PORT: String(port) } });
      expect(code).toBe(1);
      expect(aegle.lines).toContainEqual(
        expect.stringMatching(
          new RegExp(`^PORT=${port} is already in use .* or set PORT to a free port\\.$`),
        ),
      );
      expect(aegle.lines.join('\n')).not.toMatch(/successfully started|EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});

import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually } from './support/http';

jest.setTimeout(150_000);

/** `npm run demo` as a newcomer runs it: results appear, and Ctrl-C to npm leaves nothing running. */
describe('npm run demo', () => {
  it('prints risk results as they land in the sandbox EHR and stops cleanly on SIGINT', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aegle-demo-test-'));
    chmodSync(dataDir, 0o755); // as root, the embedded PostgreSQL runs as its own user
    // Through npm, as a newcomer runs it (pretest built the console, predemo's only work): the
    // Ctrl-C below goes to npm's process and must reach the demo.
    const demo = spawn(
      'npm',
      [
        'run',
        'demo',
        '--ignore-scripts',
        '--',
        '--patients',
        '8',
        '--interval',
        '50',
        '--port',
        '0',
        '--data-dir',
        dataDir,
      ],
      {
        cwd: resolve(__dirname, '..'),
        env: { ...process.env, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((done) => demo.once('exit', (code) => done(code)));

    // Wait for the stream to finish and for results to arrive (the demo says when it has played all).
    await new Promise<void>((done, fail) => {
      const check = () => {
        if (/Played 8 results/.test(output) && /✓ P-[0-9A-F]{6}\s+10-year ASCVD risk [\d.]+%/.test(output))
          done();
      };
      demo.stdout.on('data', check);
      void exited.then(() => fail(new Error(`the demo exited early:\n${output}`)));
    });
    expect(output).toMatch(
      /Sandbox EHR \(FHIR R4\) at http:\/\/127\.0\.0\.1:\d+\/fhir with 8 synthetic patients/,
    );
    expect(output).toMatch(/→ P-[0-9A-F]{6}\s+lab result\s+[\d.]+ (mg\/dL|mmol\/L)/);
    // Each result's link opens the admin console on that result's story.
    const [link, aegleUrl, observationId] =
      /(http:\/\/127\.0\.0\.1:\d+)\/console#\/results\/Observation\/([\w-]+)/.exec(output)!;
    expect(output).toContain(`Admin console at ${aegleUrl}/console`);
    expect((await fetch(link)).status).toBe(200);
    // The result is printed when the EHR stores it; Aegle records the write-back a moment later.
    const storyOf = () =>
      fetch(`${aegleUrl}/api/observations/${observationId}/story`, {
        headers: { authorization: `Bearer ${process.env.AEGLE_ADMIN_TOKEN ?? 'demo-admin-token'}` },
      });
    const story = await eventually(async () => {
      const answer = await storyOf();
      return answer.status === 404 ? undefined : answer;
    }, "the result's write-back to be recorded");
    expect(story.status).toBe(200);
    // Synthetic names never reach the screen: only pseudonyms.
    expect(output).not.toMatch(/Castellanos|Okafor|Lindqvist/);

    demo.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toMatch(/Stopped\. Nothing is left running/);
    // The embedded PostgreSQL of the demo stopped too: nothing holds its data directory.
    const { execFileSync } = await import('node:child_process');
    const running = execFileSync('ps', ['-eo', 'args']).toString('utf8');
    expect(running).not.toContain(dataDir);
  });
});

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { lockRepository } from './support/repository-lock';

jest.setTimeout(240_000);

const ROOT = resolve(__dirname, '..');
const run = promisify(execFile);

/** A command as a vendor types it in a clone after `npm ci`: exit code and output. */
async function sh(command: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * `npx aegle plugin new` into the repository's own plugins/ folder, as a vendor does: the plugin
 * passes the repository's tests (its own spec and every plugin's golden-case rule) and its lint.
 */
describe('npx aegle plugin new, in a clone', () => {
  const id = `prognosis-scaffold${randomBytes(3).toString('hex')}`;
  const dir = join('plugins', id);

  let unlock: () => void = () => undefined;
  // The plugin lives in plugins/ from its creation to its removal: no other test compiles it meanwhile.
  beforeAll(async () => {
    unlock = await lockRepository('plugins');
  });
  afterAll(() => {
    rmSync(join(ROOT, dir), { recursive: true, force: true });
    unlock();
  });

  it('creates a plugin and says the next command, one that works', async () => {
    const created = await sh('npx', ['aegle', 'plugin', 'new', id]);
    expect(created).toMatchObject({ code: 0 });
    expect(created.output).toContain(`then \`npx aegle plugin validate ${dir}\``);
    const validated = await sh('npx', ['aegle', 'plugin', 'validate', dir]);
    expect(validated).toMatchObject({ code: 0 });
    expect(validated.output).toContain(`✓ ${id}@0.1.0 is valid`);
  });

  it("passes the repository's tests as generated", async () => {
    const tested = await sh('npx', [
      'jest',
      dir,
      'plugins/golden-cases.spec.ts',
      '--selectProjects',
      'unit',
      '--verbose',
    ]);
    expect(tested.output).toMatch(new RegExp(`${id} golden cases`));
    expect(tested.output).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    expect(tested.code).toBe(0);
  });

  it("passes the repository's lint (Prettier and ESLint) as generated", async () => {
    expect(await sh('npx', ['prettier', '--check', dir])).toMatchObject({ code: 0 });
    expect(await sh('npx', ['eslint', dir])).toMatchObject({ code: 0 });
  });

  it("refuses plugin code that imports the engine's entry or reaches into Aegle's libraries", async () => {
    const code = join(dir, 'index.ts');
    writeFileSync(
      join(ROOT, code),
      [
        "import { definePlugin } from '@aegle/plugin-sdk';",
        "import { readPluginFolder } from '@aegle/plugin-sdk/engine';",
        "import { convertUnit } from '../../libs/plugin-sdk/src/units';",
        '',
        'export default definePlugin({ interpret: ({ findings }) => findings });',
        'export { convertUnit, readPluginFolder };',
        '',
      ].join('\n'),
    );
    try {
      const linted = await sh('npx', ['eslint', code]);
      expect(linted.code).toBe(1);
      expect(linted.output).toContain("'@aegle/plugin-sdk/engine' import is restricted");
      expect(linted.output).toContain("'../../libs/plugin-sdk/src/units' import is restricted");
      expect(linted.output).toMatch(/2 problems \(2 errors/);
    } finally {
      rmSync(join(ROOT, code), { force: true });
    }
  });
});

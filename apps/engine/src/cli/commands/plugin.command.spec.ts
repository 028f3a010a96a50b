import { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PCE_DIR, removeFolder } from '../../../../../test/support/plugin-fixtures';
import { registerPluginCommands } from './plugin.command';

/** Runs `aegle plugin …` in-process and returns what it printed and its exit code. */
async function aegle(...args: string[]): Promise<{ out: string[]; err: string[]; exitCode: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('aegle').exitOverride();
  registerPluginCommands(program, { out: (t) => out.push(t), err: (t) => err.push(t) });
  process.exitCode = 0;
  await program.parseAsync(['node', 'aegle', 'plugin', ...args]);
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, exitCode };
}

describe('aegle plugin', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aegle-cli-'));
  });
  afterAll(() => removeFolder(root));

  it('new scaffolds a plugin that validates and passes its golden cases as created', async () => {
    const created = await aegle('new', 'diagnosis-example-thing', '--dir', root);
    expect(created.exitCode).toBe(0);
    const dir = join(root, 'diagnosis-example-thing');
    expect(created.out[0]).toBe(`created ${dir}`);
    const manifest = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as {
      kind: string;
      $schema: string;
    };
    expect(manifest.kind).toBe('diagnosis');
    expect(readFileSync(join(dir, manifest.$schema), 'utf8')).toContain('"dataScope"');

    expect(await aegle('validate', dir)).toEqual({
      out: ['✓ diagnosis-example-thing@0.1.0 is valid'],
      err: [],
      exitCode: 0,
    });
    const tested = await aegle('test', dir);
    expect(tested.exitCode).toBe(0);
    expect(tested.out.at(-1)).toBe('3 passed, 0 failed');
  });

  it('new refuses an id without a kind, and an existing folder', async () => {
    await expect(aegle('new', 'example', '--dir', root)).rejects.toThrow(
      '"example" must be <kind>-<name> in kebab-case, with kind one of diagnosis, treatment, prognosis',
    );
    await aegle('new', 'prognosis-twice', '--dir', root);
    await expect(aegle('new', 'prognosis-twice', '--dir', root)).rejects.toThrow('already exists');
  });

  it('validate exits 1 and lists every problem', async () => {
    await aegle('new', 'prognosis-broken', '--dir', root);
    const dir = join(root, 'prognosis-broken');
    const manifest = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'plugin.json'), JSON.stringify({ ...manifest, version: 'v1', extra: true }));
    expect(await aegle('validate', dir)).toEqual({
      out: [],
      err: [
        `✗ ${dir} is not a valid plugin:`,
        '  - plugin.json version: must be a semantic version such as 1.2.0',
        '  - plugin.json (root): Unrecognized key: "extra"',
      ],
      exitCode: 1,
    });
  });

  it('run prints the Observations the plugin would write for a Bundle', async () => {
    const golden = JSON.parse(readFileSync(join(PCE_DIR, 'golden', 'complete-patient.json'), 'utf8')) as {
      bundle: unknown;
    };
    const bundle = join(root, 'patient.json');
    writeFileSync(bundle, JSON.stringify(golden.bundle));
    const result = await aegle(
      'run',
      PCE_DIR,
      '--bundle',
      bundle,
      '--focus',
      'Observation/tc-1',
      '--now',
      '2026-06-01T12:00:00Z',
    );
    expect(result.exitCode).toBe(0);
    const printed = JSON.parse(result.out.join('\n')) as {
      status: string;
      observations: fhir4.Observation[];
    };
    expect(printed.status).toBe('succeeded');
    expect(printed.observations).toHaveLength(1);
    expect(printed.observations[0]).toMatchObject({
      resourceType: 'Observation',
      status: 'preliminary',
      code: { coding: [expect.objectContaining({ code: '79423-0' })] },
      subject: { reference: 'Patient/golden-1' },
      valueQuantity: { value: 2.1, code: '%' },
      interpretation: [{ text: 'Low 10-year ASCVD risk (<5%)' }],
    });
  });

  it('run prints why the plugin skips', async () => {
    const golden = JSON.parse(readFileSync(join(PCE_DIR, 'golden', 'missing-hdl.json'), 'utf8')) as {
      bundle: unknown;
    };
    const bundle = join(root, 'no-hdl.json');
    writeFileSync(bundle, JSON.stringify(golden.bundle));
    const result = await aegle('run', PCE_DIR, '--bundle', bundle, '--now', '2026-06-01T12:00:00Z');
    expect(JSON.parse(result.out.join('\n'))).toEqual({
      status: 'skipped',
      reason:
        'insufficient data: hdlCholesterol: no Observation with code http://loinc.org|2085-9 or http://loinc.org|14646-4 within P2Y',
    });
  });

  it('test runs the PCE golden cases, and exits 1 naming what differs when one fails', async () => {
    const passing = await aegle('test', PCE_DIR);
    expect(passing.exitCode).toBe(0);
    expect(passing.out.at(-1)).toBe('16 passed, 0 failed');

    await aegle('new', 'prognosis-drifted', '--dir', root);
    const dir = join(root, 'prognosis-drifted');
    const file = join(dir, 'golden', 'complete.json');
    const golden = JSON.parse(readFileSync(file, 'utf8')) as {
      expect: { observations: Array<{ value: number }> };
    };
    golden.expect.observations[0].value = 40;
    writeFileSync(file, JSON.stringify(golden));
    const failing = await aegle('test', dir);
    expect(failing.exitCode).toBe(1);
    expect(failing.err).toEqual([
      '✗ golden/complete.json',
      expect.stringMatching(
        /^ {2}- https:\/\/example\.org\/fhir\/CodeSystem\/prognosis-drifted\|risk: value 47\.5 is not 40 ± 0\.05$/,
      ),
    ]);
    expect(failing.out.at(-1)).toBe('2 passed, 1 failed');
  });
});

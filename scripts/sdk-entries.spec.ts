import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sdkEntries } from './sdk-entries';

const SDK = join(__dirname, '..', 'libs', 'plugin-sdk');

describe('the SDK entries whose API is reported', () => {
  it('are the code entries of the package, each with a committed report', () => {
    const entries = sdkEntries(join(SDK, 'package.json'));
    expect(entries.map((e) => [e.name, e.report])).toEqual([
      ['@aegle/plugin-sdk', 'plugin-sdk'],
      ['@aegle/plugin-sdk/onnx', 'plugin-sdk-onnx'],
      ['@aegle/plugin-sdk/engine', 'plugin-sdk-engine'],
    ]);
    for (const entry of entries) expect(existsSync(join(SDK, 'etc', `${entry.report}.api.md`))).toBe(true);
  });

  it('leave out exports without declarations (the JSON schemas) and name nested entries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdk-entries-'));
    try {
      const file = join(dir, 'package.json');
      writeFileSync(
        file,
        JSON.stringify({
          name: '@acme/sdk',
          exports: {
            '.': { types: './dist/index.d.ts', default: './dist/index.js' },
            './tools/cli': { types: './dist/cli.d.ts', default: './dist/cli.js' },
            './schema.json': './schema.json',
            './lint': { default: './lint.js' },
          },
        }),
      );
      expect(sdkEntries(file)).toEqual([
        { name: '@acme/sdk', types: 'dist/index.d.ts', report: 'sdk' },
        { name: '@acme/sdk/tools/cli', types: 'dist/cli.d.ts', report: 'sdk-tools-cli' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sdk from './index';
import { SDK_VERSION } from './manifest';

const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
  version: string;
  exports: Record<string, unknown>;
};

describe('the @aegle/plugin-sdk package', () => {
  it("is versioned as the plugin contract it implements (the manifests' sdk range)", () => {
    expect(pkg.version).toBe(SDK_VERSION);
  });

  it('gives plugins the small public entry, and the engine its own', () => {
    expect(Object.keys(sdk).sort()).toEqual([
      'BundlePatientData',
      'PLUGIN_KINDS',
      'SDK_VERSION',
      'codingMatches',
      'conceptMatches',
      'convertUnit',
      'definePlugin',
      'normaliseGenotype',
      'runGoldenCases',
      'runPlugin',
      'validatePlugin',
    ]);
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(['.', './onnx', './engine']));
  });
});

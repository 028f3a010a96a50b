import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PluginManifestInput } from '@aegle/plugin-sdk';
import validation from '../model/validation.json';

/** The manifest's positive/negative bands must split at the threshold the model card chose. */
describe('diagnosis-pneumonia-cxr manifest', () => {
  it('interprets at the validation operating threshold, in percent', () => {
    const manifest = JSON.parse(
      readFileSync(join(__dirname, '..', 'plugin.json'), 'utf8'),
    ) as PluginManifestInput;
    const bands = manifest.outputs[0].bands!;
    const threshold = 100 * validation.threshold;
    expect(bands.map((b) => [b.min, b.max, b.interpretation?.code])).toEqual([
      [undefined, threshold, 'NEG'],
      [threshold, undefined, 'POS'],
    ]);
    expect(manifest.outputs[0].scale).toBe(100);
  });
});

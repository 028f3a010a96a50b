import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { boundedValue, interpretOutputs, manifestSchema, PluginManifest } from '@aegle/plugin-sdk/engine';

/**
 * Every note template of every plugin, rendered with the values gathering gives (a quantity shows
 * its unit, a presence yes or "none recorded", a category its recorded text): no word or unit is
 * ever doubled ("170 cm cm"), no placeholder is left unfilled, and no probability is reported as a
 * certainty (0 or 100 %).
 */
const plugins = readdirSync(__dirname, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => ({
    id: entry.name,
    manifest: manifestSchema.parse(
      JSON.parse(readFileSync(join(__dirname, entry.name, 'plugin.json'), 'utf8')),
    ) as PluginManifest,
  }));

/** What gathering shows for each input: the display a clinician reads in the note. */
function representative(manifest: PluginManifest) {
  return Object.fromEntries(
    manifest.inputs.map((spec) => {
      const presence = spec.source.from === 'condition' || spec.source.from === 'medication';
      const display = presence
        ? 'none recorded (taken as no)'
        : spec.map
          ? `${Object.keys(spec.map)[0]}`
          : spec.unit
            ? `170 ${spec.unit === 'mm[Hg]' ? 'mmHg' : spec.unit === 'a' ? 'y' : spec.unit}`
            : '42';
      return [spec.name, { value: 1, display }];
    }),
  );
}

/** A word or unit written twice in a row ("cm cm", "CYP2C9 CYP2C9"). */
const DOUBLED = /(?<![\w*/])([A-Za-z%][\w/[\]%]*)\s+\1(?![\w/])/;

describe.each(plugins)('$id note templates', ({ manifest }) => {
  const features = representative(manifest);
  const outputs = Object.fromEntries(manifest.model.outputs.map((t) => [t.name, 0.5]));

  it('render every placeholder without doubling a word or a unit', () => {
    for (const finding of interpretOutputs(manifest, outputs, features)) {
      if (!finding.note) continue;
      expect(finding.note).not.toMatch(/\{[a-zA-Z]\w*\}/);
      expect(finding.note.match(DOUBLED)?.[0]).toBeUndefined();
    }
  });

  it('notes every caveat an input declares, filled in', () => {
    for (const spec of manifest.inputs) {
      for (const note of Object.values(spec.notes ?? {})) {
        const caveat = note.replace(/\{value\}/g, 'White and Black or African American');
        const [finding] = interpretOutputs(manifest, outputs, {
          ...features,
          [spec.name]: { value: 1, caveat },
        });
        expect(finding.note).toContain(caveat);
        expect(caveat.match(DOUBLED)?.[0]).toBeUndefined();
      }
    }
  });

  it('never reports a probability as 0 or 100 %', () => {
    for (const output of manifest.outputs) {
      if (output.unit === '%' && output.scale === 100) expect(output.probability).toBe(true);
      if (!output.probability) continue;
      const top = output.unit === '%' ? 100 : 1;
      expect(boundedValue(output, top).comparator).toBe('>');
      expect(boundedValue(output, top).value).toBeLessThan(top);
      expect(boundedValue(output, 0).comparator).toBe('<');
      expect(boundedValue(output, 0).value).toBeGreaterThan(0);
    }
  });
});

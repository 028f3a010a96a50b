import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGoldenCases } from '@aegle/plugin-sdk';

/**
 * Every reference plugin's golden FHIR Bundles (a complete patient, one with an input missing, one
 * with values in other units …) run through the offline harness, as `aegle plugin test` runs them.
 * A plugin is a folder with a plugin.json, as Aegle discovers them.
 */
const plugins = readdirSync(__dirname, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(__dirname, entry.name, 'plugin.json')))
  .map((entry) => entry.name);

describe.each(plugins)('%s golden cases', (plugin) => {
  it('has at least three, and each gives what it expects', async () => {
    const results = await runGoldenCases(join(__dirname, plugin));
    expect(results.length).toBeGreaterThanOrEqual(3);
    expect(results.filter((r) => !r.passed).map((r) => `${r.file}: ${r.problems.join('; ')}`)).toEqual([]);
  });

  it('says where each way of coding the data comes from', () => {
    const golden = join(__dirname, plugin, 'golden');
    const unsourced = readdirSync(golden)
      .filter((file) => file.endsWith('.json'))
      .filter((file) => !JSON.parse(readFileSync(join(golden, file), 'utf8')).source);
    expect(unsourced).toEqual([]);
  });
});

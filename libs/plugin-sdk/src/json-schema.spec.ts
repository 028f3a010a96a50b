import Ajv2020 from 'ajv/dist/2020';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { sdkSchemas } from './json-schema';

const SDK = join(__dirname, '..');
const PLUGINS = join(SDK, '..', '..', 'plugins');

describe('the JSON Schemas the SDK ships', () => {
  it.each(Object.keys(sdkSchemas()))(
    '%s is up to date with the zod schema (npm run plugin:schema)',
    (file) => {
      const committed = JSON.parse(readFileSync(join(SDK, file), 'utf8')) as unknown;
      expect(committed).toEqual(sdkSchemas()[file]);
    },
  );

  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(join(SDK, 'plugin.schema.json'), 'utf8')) as object);

  it('accepts every plugin.json in plugins/', () => {
    const manifests = readdirSync(PLUGINS)
      .map((name) => join(PLUGINS, name, 'plugin.json'))
      .filter((file) => {
        try {
          readFileSync(file);
          return true;
        } catch {
          return false;
        }
      });
    expect(manifests.length).toBeGreaterThan(0);
    for (const file of manifests) {
      expect({
        file,
        valid: validate(JSON.parse(readFileSync(file, 'utf8'))),
        errors: validate.errors ?? null,
      }).toEqual({
        file,
        valid: true,
        errors: null,
      });
    }
  });

  it('rejects unknown keys and a version that is not semver, as editors will show', () => {
    const manifest = JSON.parse(
      readFileSync(join(PLUGINS, 'prognosis-ascvd-pce', 'plugin.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(validate({ ...manifest, colour: 'blue', version: 'one' })).toBe(false);
    expect(validate.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          keyword: 'additionalProperties',
          params: { additionalProperty: 'colour' },
        }),
        expect.objectContaining({ instancePath: '/version', keyword: 'pattern' }),
      ]),
    );
  });

  it('points every plugin manifest and golden case at the schema the SDK package ships', () => {
    const schemaOf = (file: string) =>
      (JSON.parse(readFileSync(file, 'utf8')) as { $schema: string }).$schema;
    for (const plugin of readdirSync(PLUGINS, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      const dir = join(PLUGINS, plugin.name);
      expect(schemaOf(join(dir, 'plugin.json'))).toBe(
        '../../node_modules/@aegle/plugin-sdk/plugin.schema.json',
      );
      expect(realpathSync(join(dir, schemaOf(join(dir, 'plugin.json'))))).toBe(
        join(SDK, 'plugin.schema.json'),
      );
      for (const golden of readdirSync(join(dir, 'golden'))) {
        expect(schemaOf(join(dir, 'golden', golden))).toBe(
          '../../../node_modules/@aegle/plugin-sdk/golden.schema.json',
        );
      }
    }
  });
});

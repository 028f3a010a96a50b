import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PCE_DIR, pluginVariant, removeFolder } from '../../../test/support/plugin-fixtures';
import { validatePlugin } from './harness';
import { valueSetCodes } from './loader';

describe('validatePlugin: what Aegle checks at load, offline', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aegle-loader-'));
  });
  afterAll(() => removeFolder(root));

  it('accepts the PCE reference plugin', async () => {
    expect(await validatePlugin(PCE_DIR)).toEqual({ valid: true, key: 'prognosis-ascvd-pce@1.0.0' });
  });

  it('rejects a model file that is not the one the manifest describes (sha256)', async () => {
    const dir = await pluginVariant(root, 'bad-sha', (m) => {
      m.model.sha256 = '0'.repeat(64);
    });
    const actual = readFileSync(join(PCE_DIR, 'model.onnx'));
    const sha = createHash('sha256').update(actual).digest('hex');
    expect(await validatePlugin(dir)).toEqual({
      valid: false,
      problems: [
        `model.sha256 is ${'0'.repeat(64)} but model.onnx hashes to ${sha}: the model file is not the one the manifest describes`,
      ],
    });
  });

  it('rejects an exclusion whose value set is missing or needs a terminology server', async () => {
    const dir = await pluginVariant(
      root,
      'value-sets',
      (m) => {
        m.exclusions = [
          { criterion: 'gone', condition: { valueSet: 'valuesets/gone.json' } },
          { criterion: 'snomed is-a', condition: { valueSet: 'valuesets/is-a.json' } },
        ];
      },
      {
        'valuesets/is-a.json': JSON.stringify({
          resourceType: 'ValueSet',
          status: 'active',
          compose: {
            include: [
              {
                system: 'http://snomed.info/sct',
                filter: [{ property: 'concept', op: 'is-a', value: '22298006' }],
              },
            ],
          },
        }),
      },
    );
    const validation = await validatePlugin(dir);
    expect(validation.valid).toBe(false);
    expect(!validation.valid && validation.problems).toEqual([
      'exclusions.0.condition.valueSet: valuesets/gone.json cannot be read',
      'exclusions.1.condition.valueSet: valuesets/is-a.json: filter concept is-a on http://snomed.info/sct needs a terminology server: enumerate the concepts',
    ]);
  });

  it('rejects tensors that disagree with the model’s own metadata', async () => {
    const dir = await pluginVariant(root, 'tensors', (m) => {
      m.model.inputs[0].name = 'x';
      m.model.outputs[0].type = 'float32';
      m.model.outputs[0].shape = ['N', 2];
    });
    expect(await validatePlugin(dir)).toEqual({
      valid: false,
      problems: [
        'model.inputs.0: the model has no tensor "x" (it has features)',
        'model.inputs: the model also needs "features", which the manifest does not feed',
        'model.outputs.0: "risk" is float64 in the model, not float32',
        'model.outputs.0: "risk" has shape [N, 1] in the model, not [N, 2]',
      ],
    });
  });

  it('rejects a feature list longer than the model’s input', async () => {
    const dir = await pluginVariant(root, 'features', (m) => {
      m.inputs.push({ name: 'ldl', source: { from: 'observation', codes: ['http://loinc.org|13457-7'] } });
      m.model.inputs[0].features.push('ldl');
      m.model.inputs[0].shape = ['N', 10];
    });
    expect(await validatePlugin(dir)).toEqual({
      valid: false,
      problems: [
        'model.inputs.0: "features" has shape [N, 9] in the model, not [N, 10]',
        'model.inputs.0.features lists 10 features but the model takes 9',
      ],
    });
  });

  it('rejects FHIRPath criteria that do not parse, with the parser’s message', async () => {
    const dir = await pluginVariant(root, 'fhirpath', (m) => {
      m.triggers[0] = { resourceType: 'Observation', criteria: "code.coding.where(code = '2093-3'" };
    });
    const result = await validatePlugin(dir);
    expect(result.valid).toBe(false);
    expect(!result.valid && result.problems).toEqual([
      expect.stringMatching(/^triggers\.0\.criteria: invalid FHIRPath: .+/),
    ]);
  });

  it('rejects an SDK range this SDK is outside of', async () => {
    const dir = await pluginVariant(root, 'sdk', (m) => {
      m.sdk = '>=0.2.0';
    });
    expect(await validatePlugin(dir)).toEqual({
      valid: false,
      problems: ['plugin.json sdk: the plugin needs SDK >=0.2.0, this Aegle provides 0.1.0'],
    });
  });

  it('rejects a missing model file and invalid JSON', async () => {
    const missing = await pluginVariant(root, 'no-model', (m) => {
      m.model.file = 'models/v2.onnx';
    });
    expect(await validatePlugin(missing)).toEqual({
      valid: false,
      problems: ['model.file: models/v2.onnx cannot be read'],
    });
    const broken = await pluginVariant(root, 'json');
    await writeFile(join(broken, 'plugin.json'), '{ "id": ');
    const result = await validatePlugin(broken);
    expect(!result.valid && result.problems).toEqual([
      expect.stringMatching(/^plugin\.json is not valid JSON: /),
    ]);
  });

  it('rejects code that does not load or does not use definePlugin, and inputs from code without extract()', async () => {
    const syntax = await pluginVariant(root, 'code-syntax', undefined, { 'index.ts': 'export default {' });
    const syntaxResult = await validatePlugin(syntax);
    expect(!syntaxResult.valid && syntaxResult.problems).toEqual([
      expect.stringMatching(/^index\.ts cannot be loaded: /),
    ]);

    const plain = await pluginVariant(root, 'code-plain', undefined, {
      'index.ts': 'export default { extract() { return {}; } };',
    });
    expect(await validatePlugin(plain)).toEqual({
      valid: false,
      problems: ['index.ts cannot be loaded: index.ts must export default definePlugin({ … })'],
    });

    const noExtract = await pluginVariant(root, 'code-missing', (m) => {
      m.inputs[8] = { name: 'africanAmerican', source: { from: 'plugin' } };
    });
    expect(await validatePlugin(noExtract)).toEqual({
      valid: false,
      problems: [
        'inputs with "source": { "from": "plugin" } need an index.ts whose definePlugin has extract()',
      ],
    });
  });
});

describe('value sets beside the manifest', () => {
  it('reads enumerated concepts and ICD-10 is-a filters as code patterns', () => {
    expect(
      valueSetCodes({
        resourceType: 'ValueSet',
        status: 'active',
        compose: {
          include: [
            { system: 'http://snomed.info/sct', concept: [{ code: '1755008' }] },
            {
              system: 'http://hl7.org/fhir/sid/icd-10-cm',
              filter: [{ property: 'concept', op: 'is-a', value: 'I21' }],
            },
          ],
        },
      }),
    ).toEqual(['http://snomed.info/sct|1755008', 'http://hl7.org/fhir/sid/icd-10-cm|I21*']);
  });

  it('refuses a filter that needs a terminology server rather than reading half of it', () => {
    expect(() =>
      valueSetCodes({
        resourceType: 'ValueSet',
        status: 'active',
        compose: {
          include: [
            {
              system: 'http://snomed.info/sct',
              filter: [{ property: 'concept', op: 'is-a', value: '22298006' }],
            },
          ],
        },
      }),
    ).toThrow('needs a terminology server');
  });
});

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile as writeRaw } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  importWithSdk,
  PLUGIN_ID,
  PLUGIN_ID_RULE,
  PLUGIN_KINDS,
  SDK_VERSION,
} from '@aegle/plugin-sdk/engine';
import { standaloneFiles } from './standalone';

/** The SDK's package name, assembled so that the build's path-alias rewriting leaves the templates alone. */
const SDK_PACKAGE = ['@aegle', 'plugin-sdk'].join('/');

/** The example model's coefficients; the golden cases are computed from them independently of ONNX. */
const INTERCEPT = -6;
const AGE = 0.04;
const HBA1C = 0.5;

/**
 * Writes a file formatted as the project's Prettier config says, where Prettier is installed (a
 * clone of Aegle): the plugin passes the repository's lint as generated. Elsewhere, as written.
 */
async function writeFile(path: string, text: string): Promise<void> {
  await writeRaw(path, await formatted(path, text).catch(() => text));
}

async function formatted(path: string, text: string): Promise<string> {
  // Prettier loads its plugins with a dynamic import, which some sandboxes (Jest's VM) refuse.
  const prettier = await import('prettier');
  return prettier.format(text, { ...(await prettier.resolveConfig(path)), filepath: path });
}

export interface ScaffoldResult {
  dir: string;
  files: string[];
}

export interface ScaffoldOptions {
  /** The SDK package's folder as a plugin in Aegle's repository sees it (its JSON schemas). */
  sdkDir: string;
  /**
   * A plugin of its own, outside Aegle's repository: an npm package that depends on the SDK, with
   * its own scripts (validate, test, lint) in place of the repository's.
   */
  standalone?: boolean;
}

/**
 * Creates a working plugin folder: a manifest, a model build script (OnnxGraphBuilder) and the
 * model it builds, a model card template, golden cases and a test. It validates and passes its
 * golden cases as created; the vendor then replaces the example model with theirs.
 */
export async function scaffoldPlugin(
  id: string,
  parent: string,
  options: ScaffoldOptions,
): Promise<ScaffoldResult> {
  if (!PLUGIN_ID.test(id)) throw new Error(`"${id}" must be ${PLUGIN_ID_RULE}`);
  const kind = PLUGIN_KINDS.find((k) => id.startsWith(`${k}-`))!;
  const dir = join(parent, id);
  if (existsSync(dir)) throw new Error(`${dir} already exists`);
  await mkdir(join(dir, 'model'), { recursive: true });
  await mkdir(join(dir, 'golden'), { recursive: true });
  // A standalone plugin finds the schemas in its own node_modules once it has installed the SDK.
  const sdkDir = options.standalone ? join(dir, 'node_modules', ...SDK_PACKAGE.split('/')) : options.sdkDir;
  const schema = (file: string, from: string) => {
    const path = relative(from, join(sdkDir, file)).split('\\').join('/');
    return path.startsWith('.') ? path : `./${path}`;
  };

  await writeFile(
    join(dir, 'model', 'build-model.ts'),
    buildScript(
      id,
      options.standalone
        ? 'npm run build-model'
        : `node -r @swc-node/register plugins/${id}/model/build-model.ts`,
    ),
  );
  const { buildModel } = await importWithSdk<{ buildModel(): Uint8Array }>(
    join(dir, 'model', 'build-model.ts'),
  );
  const bytes = buildModel();
  await writeRaw(join(dir, 'model.onnx'), bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  await writeFile(
    join(dir, 'plugin.json'),
    `${JSON.stringify(manifest(id, kind, sha256, schema('plugin.schema.json', dir)), null, 2)}\n`,
  );
  await writeFile(join(dir, 'README.md'), modelCard(id));
  const goldenSchema = schema('golden.schema.json', join(dir, 'golden'));
  await writeFile(
    join(dir, 'golden', 'complete.json'),
    `${JSON.stringify(golden(id, goldenSchema, true), null, 2)}\n`,
  );
  await writeFile(
    join(dir, 'golden', 'low-risk.json'),
    `${JSON.stringify(golden(id, goldenSchema, true, { age: 40, hba1c: 5.5 }), null, 2)}\n`,
  );
  await writeFile(
    join(dir, 'golden', 'missing-hba1c.json'),
    `${JSON.stringify(golden(id, goldenSchema, false), null, 2)}\n`,
  );
  const files = [
    'plugin.json',
    'model.onnx',
    'model/build-model.ts',
    'README.md',
    'golden/complete.json',
    'golden/low-risk.json',
    'golden/missing-hba1c.json',
  ];
  if (options.standalone) {
    // Its tests are the SDK's harness (`npm test`), not the repository's Jest.
    const extra = standaloneFiles(id, { name: SDK_PACKAGE, version: SDK_VERSION });
    for (const [file, text] of Object.entries(extra)) await writeFile(join(dir, file), text);
    return { dir, files: [...files, ...Object.keys(extra)] };
  }
  await mkdir(join(dir, 'test'), { recursive: true });
  await writeFile(join(dir, 'test', 'plugin.spec.ts'), testFile(id));
  return { dir, files: [...files, 'test/plugin.spec.ts'] };
}

function manifest(id: string, kind: string, sha256: string, schemaPath: string) {
  return {
    $schema: schemaPath,
    id,
    version: '0.1.0',
    kind,
    title: `${id} (example model: replace me)`,
    description:
      'Example logistic model of age and HbA1c, generated by `aegle plugin new`. Not a clinical model.',
    publisher: 'Your organisation',
    modelCard: 'README.md',
    sdk: `^${SDK_VERSION}`,
    triggers: [
      {
        resourceType: 'Observation',
        criteria:
          "code.coding.where(system = 'http://loinc.org' and code = '4548-4').exists() and status != 'entered-in-error'",
      },
      { resourceType: 'Patient' },
    ],
    dataScope: { resourceTypes: ['Patient', 'Observation'], securityLabels: [] },
    inputs: [
      {
        name: 'age',
        label: 'age',
        description: 'Age in years at the time of the run',
        source: { from: 'age' },
        unit: 'a',
        valid: { min: 18, max: 100 },
      },
      {
        name: 'hba1c',
        label: 'HbA1c',
        description: 'Latest HbA1c within a year',
        source: { from: 'observation', codes: ['http://loinc.org|4548-4'], lookback: 'P1Y' },
        unit: '%',
        valid: { min: 3, max: 20 },
      },
    ],
    model: {
      file: 'model.onnx',
      sha256,
      execution: 'cpu',
      inputs: [{ name: 'features', type: 'float64', shape: ['N', 2], features: ['age', 'hba1c'] }],
      outputs: [{ name: 'probability', type: 'float64', shape: ['N', 1] }],
    },
    outputs: [
      {
        tensor: 'probability',
        code: { system: `https://example.org/fhir/CodeSystem/${id}`, code: 'risk', display: 'Example risk' },
        unit: '%',
        scale: 100,
        decimals: 1,
        probability: true,
        bands: [
          { max: 20, text: 'Low example risk (<20%)' },
          { min: 20, text: 'Raised example risk (≥20%)' },
        ],
      },
    ],
    policy: { observationStatus: 'preliminary', timeoutMs: 10000, maxConcurrency: 4 },
  };
}

function buildScript(id: string, rebuild: string): string {
  return `// Builds model.onnx from the example coefficients. Re-run after changing them:
//   ${rebuild}
// then put the printed sha256 in plugin.json (\`npx aegle plugin validate\` says when they differ).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxGraphBuilder } from '${SDK_PACKAGE}/onnx';

/** p = sigmoid(${INTERCEPT} + ${AGE}·age + ${HBA1C}·hba1c): an example, not a clinical model. */
export function buildModel(): Uint8Array {
  const g = new OnnxGraphBuilder('${id}');
  const features = g.input('features', 'float64', ['N', 2]);
  const weights = g.constant('float64', [2, 1], [${AGE}, ${HBA1C}]);
  const intercept = g.constant('float64', [1], [${INTERCEPT}]);
  const logit = g.op('Add', [g.op('MatMul', [features, weights]), intercept]);
  g.op('Sigmoid', [logit], {}, g.output('probability', 'float64', ['N', 1]));
  g.meta('source', 'aegle plugin new: example logistic model');
  return g.build();
}

if (require.main === module) {
  const bytes = buildModel();
  writeFileSync(join(__dirname, '..', 'model.onnx'), bytes);
  process.stdout.write(\`model.onnx sha256 \${createHash('sha256').update(bytes).digest('hex')}\\n\`);
}
`;
}

/** A golden case: a patient of `age` with HbA1c `hba1c` (complete), or without one. */
function golden(id: string, schemaPath: string, complete: boolean, patient = { age: 60, hba1c: 7 }) {
  const { age, hba1c } = patient;
  const risk = 100 / (1 + Math.exp(-(INTERCEPT + AGE * age + HBA1C * hba1c)));
  const entries: fhir4.Resource[] = [
    {
      resourceType: 'Patient',
      id: 'example',
      gender: 'female',
      birthDate: `${2026 - age}-02-01`,
    } as fhir4.Patient,
    ...(complete
      ? [
          {
            resourceType: 'Observation',
            id: 'a1c',
            status: 'final',
            code: {
              coding: [
                {
                  system: 'http://loinc.org',
                  code: '4548-4',
                  display: 'Hemoglobin A1c/Hemoglobin.total in Blood',
                },
              ],
            },
            subject: { reference: 'Patient/example' },
            effectiveDateTime: '2026-05-01T09:00:00Z',
            valueQuantity: { value: hba1c, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
          } as fhir4.Observation,
        ]
      : []),
  ];
  return {
    $schema: schemaPath,
    description: complete
      ? `A ${age}-year-old with HbA1c ${hba1c} %: sigmoid(${INTERCEPT} + ${AGE}·${age} + ${HBA1C}·${hba1c}) = ${risk.toFixed(1)} %.`
      : 'No HbA1c within a year: the plugin skips and names the missing input.',
    // Where this way of coding the data comes from (an IG example, a LOINC table, a lab's practice).
    source: 'LOINC 4548-4 (HbA1c, %) as US Core laboratory results write it; replace with your own sources.',
    now: '2026-06-01T12:00:00Z',
    ...(complete ? { focus: 'Observation/a1c' } : {}),
    bundle: { resourceType: 'Bundle', type: 'collection', entry: entries.map((resource) => ({ resource })) },
    expect: complete
      ? {
          observations: [
            {
              code: `https://example.org/fhir/CodeSystem/${id}|risk`,
              value: Math.round(risk * 10) / 10,
              unit: '%',
              interpretation: risk < 20 ? 'Low example risk (<20%)' : 'Raised example risk (≥20%)',
            },
          ],
        }
      : { skip: 'hba1c: no Observation with code http://loinc.org|4548-4 within P1Y' },
  };
}

function modelCard(id: string): string {
  return `# ${id}: model card

> Generated by \`aegle plugin new\`. Replace every section with your model's facts before release.

## Intended use and users
Who uses the result, for which decision, in which population. What it is **not** for.

## Inputs
| Input | FHIR source | Unit / value |
| ----- | ----------- | ------------ |
| age   | \`Patient.birthDate\` | years |
| hba1c | Observation LOINC 4548-4, latest within a year | % |

## Output
The Observation written (code, unit, bands) and how to read it.

## Training data and validation
Data source, period, population, outcome definition; discrimination and calibration with confidence
intervals; subgroups (sex, age, ethnicity).

## Limitations and risks
Known failure modes, out-of-range inputs (the plugin skips them), drift, what a clinician must check.

## Versions
| Version | Date | Change |
| ------- | ---- | ------ |
| 0.1.0   |      | First version |
`;
}

function testFile(id: string): string {
  return `import { join } from 'node:path';
import { runGoldenCases, validatePlugin } from '${SDK_PACKAGE}';

const dir = join(__dirname, '..');

describe('${id}', () => {
  it('passes every check Aegle makes at load', async () => {
    expect(await validatePlugin(dir)).toEqual({ valid: true, key: expect.stringMatching(/^${id}@/) });
  });

  it('gives the expected result on each golden case', async () => {
    const results = await runGoldenCases(dir);
    expect(results.length).toBeGreaterThan(0);
    for (const result of results) expect({ file: result.file, problems: result.problems }).toEqual({ file: result.file, problems: [] });
  });
});
`;
}

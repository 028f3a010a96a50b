// Lint rules that state the architecture: dependencies point one way, and each outside system has
// exactly one door. apps → the stages (intake, routing → runs → write-back, subscriptions) → jobs
// and catalogue → the foundation (fhir, inference, store, plugin-sdk) → config, telemetry, imaging.
// A stage may import the stages after it in the pipeline, never one before it: they hand work on
// through the queues of libs/jobs. See docs/architecture.md.
// libs/plugin-sdk is what vendors install: it imports only config and imaging (image decoding and
// preprocessing, a leaf its offline harness needs as much as the engine), and it owns
// the FHIR result builders (Observation, Device, Provenance) that the engine and the offline
// harness share. Its harness opens models through its own door (harness/onnx-model.ts), since a
// vendor's machine has no engine.
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import aeglePluginImports from './libs/plugin-sdk/eslint.js';

const only = (name, owner) => ({
  name,
  message: `Only ${owner} talks to ${name}: go through it, so that I/O stays at one edge.`,
});
const lib = (name, why) => ({ group: [`@aegle/${name}`, `@aegle/${name}/*`], message: why });
// A dev dependency: what the engine loads at run time must not need it (the image has none).
const devOnly = (name, owner) => ({
  name,
  message: `${name} is a dev dependency: only ${owner} imports it, never code the engine loads.`,
});
const ONNX_PROTO = devOnly(
  'onnx-proto',
  'libs/plugin-sdk/src/onnx (`@aegle/plugin-sdk/onnx`) and build scripts',
);
const doors = [
  only('fhir-kit-client', 'libs/fhir'),
  only('onnxruntime-node', 'libs/inference'),
  ONNX_PROTO,
  {
    name: '@nestjs/bullmq',
    importNames: ['InjectQueue'],
    message:
      'Only libs/jobs holds the queues: add jobs through JobQueues, so each comes with its name and payload type.',
  },
];
/** A lib may reach another only through its public index (`@aegle/name`), never into its files. */
const noReachingIn = {
  group: ['../../*/src', '../../*/src/*', '../../../libs/*'],
  message: 'Import another lib by its alias (@aegle/name), not by a path into its files.',
};
/** A lower layer: it imports only the libs listed. */
const onlyLibs = (layer, libs, why) => ({
  files: [`libs/${layer}/src/**/*.ts`],
  ignores: ['**/*.spec.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        // The owner of a door may use it.
        paths: doors.filter((door) => !door.message.startsWith(`Only libs/${layer} `)),
        patterns: [{ group: ['@aegle/*', ...libs.map((l) => `!@aegle/${l}`)], message: why }, noReachingIn],
      },
    ],
  },
});

// The pipeline's stages, in the order a notification walks them, and what each may import besides
// the foundation libs. jobs (queues) and catalogue (plugins) serve every stage.
const stageLibs = ['intake', 'routing', 'runs', 'write-back', 'subscriptions', 'jobs', 'catalogue'];
const stageMayImport = {
  intake: ['jobs'],
  routing: ['jobs', 'catalogue', 'runs'],
  runs: ['jobs', 'catalogue', 'write-back'],
  'write-back': ['jobs', 'catalogue'],
  subscriptions: [],
  jobs: [],
  catalogue: [],
};
const stage = (name) => ({
  files: [`libs/${name}/src/**/*.ts`],
  ignores: ['**/*.spec.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: doors.filter((door) => !door.message.startsWith(`Only libs/${name} `)),
        patterns: [
          ...stageLibs
            .filter((other) => other !== name && !stageMayImport[name].includes(other))
            .map((other) =>
              lib(
                other,
                stageMayImport[name].length === 0
                  ? `libs/${name} serves the stages and imports none of them.`
                  : `libs/${name} does not import libs/${other}: a stage imports only the stages after it` +
                      ' (intake → routing → runs → write-back); work is handed on through the queues of libs/jobs.',
              ),
            ),
          noReachingIn,
        ],
      },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'libs/plugin-sdk/dist/**',
      'node_modules/**',
      '.aegle/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          paths: doors,
        },
      ],
    },
  },
  onlyLibs(
    'fhir',
    ['config', 'telemetry'],
    'libs/fhir is a foundation lib: it knows no stage, no store, no model.',
  ),
  onlyLibs(
    'inference',
    ['config', 'telemetry'],
    'libs/inference runs tensors: it knows no FHIR, no stage, no store.',
  ),
  onlyLibs(
    'store',
    ['config', 'telemetry'],
    'libs/store is the database layer: it knows no stage, no EHR, no model.',
  ),
  onlyLibs('telemetry', [], 'libs/telemetry is the bottom layer: it imports no other lib.'),
  ...stageLibs.map(stage),
  {
    files: ['libs/plugin-sdk/src/**/*.ts'],
    ignores: ['libs/plugin-sdk/src/harness/onnx-model.ts', 'libs/plugin-sdk/src/onnx/**', '**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            only('fhir-kit-client', 'libs/fhir'),
            only('onnxruntime-node', 'libs/inference (and the harness door, harness/onnx-model.ts)'),
            ONNX_PROTO,
          ],
          patterns: [
            {
              group: ['@aegle/*', '!@aegle/config', '!@aegle/imaging', '../../*/src', '../../*/src/*'],
              message:
                'libs/plugin-sdk is published to vendors: it imports only libs/config and libs/imaging (pixels, no engine).',
            },
          ],
        },
      ],
    },
  },
  {
    // The harness's door to onnxruntime, and the ONNX graph builder (for model build scripts only).
    files: ['libs/plugin-sdk/src/harness/onnx-model.ts', 'libs/plugin-sdk/src/onnx/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  onlyLibs('config', [], 'libs/config is the bottom layer: it imports no other lib.'),
  onlyLibs(
    'imaging',
    [],
    'libs/imaging (decoding and preprocessing images) ships with the plugin SDK: it imports no other lib.',
  ),
  {
    files: [
      'test/**/*.ts',
      'plugins/*/test/**/*.ts',
      'plugins/*/model/**/*.ts',
      'scripts/**/*.ts',
      'bench/**/*.ts',
      '**/*.spec.ts',
    ],
    rules: { 'no-restricted-imports': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  // Plugins (their code, model build scripts and tests) import nothing of Aegle but the SDK's
  // public entries; the same rule ships with the SDK for standalone plugins. Their model scripts
  // and tests may use onnx-proto and onnxruntime-node directly.
  aeglePluginImports(['plugins/*/**/*.ts']),
  {
    // The reference CNN's training reads this repository's copy of its data set through
    // libs/imaging; it runs in a clone only, never in Aegle.
    files: ['plugins/diagnosis-pneumonia-cxr/model/dataset.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  prettier,
);

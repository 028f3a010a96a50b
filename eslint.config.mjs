// Lint rules that state the architecture: dependencies point one way (apps → workflow → fhir,
// inference, audit, plugin-sdk → config), and each outside system has exactly one door.
// libs/plugin-sdk is what vendors install: it imports no other lib (not even config), and it owns
// the FHIR result builders (Observation, Device, Provenance) that the engine and the offline
// harness share. Its harness opens models through its own door (harness/onnx-model.ts), since a
// vendor's machine has no engine.
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const only = (name, owner) => ({
  name,
  message: `Only ${owner} talks to ${name}: go through it, so that I/O stays at one edge.`,
});
const lib = (name, why) => ({ group: [`@aegle/${name}`, `@aegle/${name}/*`], message: why });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.aegle/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
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
          paths: [only('fhir-kit-client', 'libs/fhir'), only('onnxruntime-node', 'libs/inference')],
        },
      ],
    },
  },
  {
    files: ['libs/fhir/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [only('onnxruntime-node', 'libs/inference')],
          patterns: [
            lib('workflow', 'libs/fhir sits below libs/workflow.'),
            lib('audit', 'libs/fhir does not know the audit trail.'),
            lib('inference', 'libs/fhir does not run models.'),
          ],
        },
      ],
    },
  },
  {
    files: ['libs/inference/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [only('fhir-kit-client', 'libs/fhir')],
          patterns: [
            lib('workflow', 'libs/inference sits below libs/workflow.'),
            lib('fhir', 'the runtime runs tensors, not FHIR.'),
            lib('audit', 'the runtime reports; the workflow audits.'),
          ],
        },
      ],
    },
  },
  {
    files: ['libs/plugin-sdk/src/**/*.ts'],
    ignores: ['libs/plugin-sdk/src/harness/onnx-model.ts', '**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            only('fhir-kit-client', 'libs/fhir'),
            only('onnxruntime-node', 'libs/inference (and the harness door, harness/onnx-model.ts)'),
          ],
          patterns: [
            {
              group: ['@aegle/*', '!@aegle/config', '../../*/src', '../../*/src/*'],
              message: 'libs/plugin-sdk is published to vendors: it imports only libs/config.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/plugin-sdk/src/harness/onnx-model.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['libs/config/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@aegle/*'], message: 'libs/config is the bottom layer: it imports no other lib.' },
          ],
        },
      ],
    },
  },
  {
    // Plugins run inside Aegle: their code imports only the SDK. Their model build scripts and
    // validation tests may use onnx-proto and onnxruntime-node directly.
    files: ['plugins/*/index.ts', 'plugins/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@aegle/*', '!@aegle/plugin-sdk', '../../libs/*', '../../apps/*'],
              message: 'Plugins import only @aegle/plugin-sdk.',
            },
          ],
        },
      ],
    },
  },
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
  prettier,
);

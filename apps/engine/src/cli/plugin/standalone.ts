/** Versions of the development tools a standalone plugin's package.json asks for. */
const DEV_TOOLS = {
  '@types/node': '^20.19.0',
  eslint: '^9.39.0',
  'onnx-proto': '^8.0.1',
  typescript: '~5.9.0',
  'typescript-eslint': '^8.46.0',
};

/**
 * The files that make a scaffolded plugin a package of its own: it depends on the SDK by semver
 * range, runs the SDK's harness as its tests and the SDK's import rule as its lint, and publishes
 * only what Aegle loads (manifest, model, model card, code).
 */
export function standaloneFiles(id: string, sdk: { name: string; version: string }): Record<string, string> {
  const sdkPackage = sdk.name;
  const pkg = {
    name: id,
    version: '0.1.0',
    description: `Aegle plugin ${id}`,
    keywords: ['aegle-plugin'],
    license: 'UNLICENSED',
    files: ['plugin.json', 'model.onnx', 'README.md', 'index.ts', 'valuesets'],
    scripts: {
      validate: 'aegle-plugin validate .',
      test: 'aegle-plugin validate . && aegle-plugin test .',
      'build-model': 'aegle-plugin build-model .',
      lint: 'eslint .',
      typecheck: 'tsc --noEmit',
    },
    devDependencies: { [sdkPackage]: `^${sdk.version}`, ...DEV_TOOLS },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'node16',
      moduleResolution: 'node16',
      strict: true,
      esModuleInterop: true,
      resolveJsonModule: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    },
    include: ['**/*.ts'],
    exclude: ['node_modules'],
  };
  return {
    'package.json': `${JSON.stringify(pkg, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(tsconfig, null, 2)}\n`,
    'eslint.config.mjs': `// The SDK's rule: a plugin imports nothing of Aegle but ${sdkPackage} (and /onnx in model scripts).
import tseslint from 'typescript-eslint';
import aeglePluginImports from '${sdkPackage}/eslint';

export default tseslint.config(
  { ignores: ['node_modules/**'] },
  ...tseslint.configs.recommended,
  aeglePluginImports(['**/*.ts']),
);
`,
    '.gitignore': 'node_modules/\n*.tgz\n',
    'DEVELOPING.md': developing(id, sdkPackage),
  };
}

function developing(id: string, sdkPackage: string): string {
  return `# Developing ${id}

An Aegle plugin as a package of its own. It needs only \`${sdkPackage}\`, offline: no EHR,
no Aegle checkout.

\`\`\`sh
npm install
npm run validate      # every check Aegle makes when it loads the plugin
npm test              # validate, then the golden cases in golden/*.json
npm run build-model   # rebuild model.onnx from model/build-model.ts; put the sha256 in plugin.json
npm run lint          # the SDK's import rule: only ${sdkPackage} (and /onnx in model scripts)
npx aegle-plugin run . --bundle patient.json --now 2026-06-01T12:00:00Z
\`\`\`

Code for what the manifest cannot say goes in \`index.ts\` (\`export default definePlugin({ … })\`),
importing only \`${sdkPackage}\`. Aegle loads it as it is, with its own copy of the SDK: the
manifest's \`sdk\` range says which SDK versions the plugin works with.

## Ship it

- Copy this folder under one of Aegle's \`plugins.dirs\`, or
- publish it (\`npm publish\`, or \`npm pack\` for a tarball), install it beside Aegle
  (\`npm install ${id}\`) and list it in \`plugins.packages\`.

\`README.md\` is the model card Aegle shows; keep it true for every version.
`;
}

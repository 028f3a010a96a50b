// ESLint (flat config) for a plugin's files, in Aegle's repository and in a standalone plugin: a
// plugin imports nothing of Aegle but `@aegle/plugin-sdk` (and `@aegle/plugin-sdk/onnx` in model
// build scripts). Never the engine's entry `@aegle/plugin-sdk/engine`, another `@aegle/*` library
// or a path into Aegle's libs/ or apps/: what a plugin may use is the SDK's public, semver-kept API.
//   import aeglePlugin from '@aegle/plugin-sdk/eslint';
//   export default [...yourConfigs, aeglePlugin(['**/*.ts'])];
'use strict';

const PLUGIN_IMPORTS = {
  patterns: [
    {
      regex: '^@aegle/(?!plugin-sdk(/onnx)?$)',
      message:
        'A plugin imports only @aegle/plugin-sdk (and @aegle/plugin-sdk/onnx in model build scripts): ' +
        'the engine entry and other Aegle libraries are not part of the plugin API.',
    },
    {
      regex: '^(\\.\\./)+(libs|apps)/|/node_modules/',
      message: 'A plugin imports the SDK by its package name, never by a path into Aegle or node_modules.',
    },
  ],
};

/** The rule for the given files (globs). */
function aeglePluginImports(files) {
  return {
    name: 'aegle/plugin-imports',
    files,
    rules: { 'no-restricted-imports': ['error', PLUGIN_IMPORTS] },
  };
}

module.exports = aeglePluginImports;
module.exports.PLUGIN_IMPORTS = PLUGIN_IMPORTS;

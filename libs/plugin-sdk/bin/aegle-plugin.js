#!/usr/bin/env node
// `npx aegle-plugin validate|run|test|build-model <dir>`: the SDK's harness for a plugin developed
// outside an Aegle checkout. Runs the package's build (dist/).
require('../dist/plugin-sdk/src/cli/main.js');

#!/usr/bin/env node
// `npx aegle …`: in a clone (dev dependencies installed) it runs the TypeScript source as it is,
// so it needs no build and is never stale; in the production image (no dev dependencies) it runs
// the build in dist/.
const { join } = require('node:path');

const root = join(__dirname, '..');
let fromSource = true;
try {
  require.resolve('@swc-node/register');
} catch {
  fromSource = false;
}
if (fromSource) {
  // The project's tsconfig (its path aliases) wherever the command is run from.
  process.env.SWC_NODE_PROJECT ??= join(root, 'tsconfig.json');
  require('@swc-node/register');
  require(join(root, 'apps/engine/src/cli/main.ts'));
} else {
  require(join(root, 'dist/apps/engine/src/cli/main.js'));
}

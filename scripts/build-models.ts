/**
 * Rebuilds every plugin's model.onnx from its build script (published coefficients or the data the
 * plugin carries). CI does not need this: each plugin's tests rebuild its model and compare bytes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', 'plugins');
for (const plugin of readdirSync(root).sort()) {
  const script = join(root, plugin, 'model', 'build-model.ts');
  if (!existsSync(script)) continue;
  process.stdout.write(`${plugin}: `);
  execFileSync(process.execPath, ['-r', '@swc-node/register', script], { stdio: 'inherit' });
}

/**
 * `npm run models:train -- PLUGIN`: runs the plugin's training (`plugins/PLUGIN/model/train-model.ts`),
 * for models trained with a framework outside Node. CI does not retrain: each plugin's tests check
 * the committed model against its card.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', 'plugins');
const trainable = readdirSync(root)
  .filter((plugin) => existsSync(join(root, plugin, 'model', 'train-model.ts')))
  .sort();
const plugin = process.argv[2];
if (!plugin || !trainable.includes(plugin)) {
  process.stderr.write(
    `usage: npm run models:train -- PLUGIN, where PLUGIN is one of: ${trainable.join(', ')}` +
      (plugin ? ` (not ${plugin})` : '') +
      '\n',
  );
  process.exit(2);
}
try {
  execFileSync(
    process.execPath,
    ['-r', '@swc-node/register', join(root, plugin, 'model', 'train-model.ts')],
    {
      stdio: 'inherit',
    },
  );
} catch {
  process.exit(1);
}

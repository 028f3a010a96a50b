// Writes libs/plugin-sdk/plugin.schema.json from the manifest's zod schema (`npm run plugin:schema`).
// libs/plugin-sdk/src/json-schema.spec.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLUGIN_SCHEMA_FILE, pluginJsonSchema } from '../libs/plugin-sdk/src/json-schema';

const target = join(__dirname, '..', 'libs', 'plugin-sdk', PLUGIN_SCHEMA_FILE);
writeFileSync(target, `${JSON.stringify(pluginJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);

// Writes the SDK's JSON Schemas (plugin.json, golden cases) from its zod schemas: `npm run plugin:schema`.
// libs/plugin-sdk/src/json-schema.spec.ts fails when a committed file is stale.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sdkSchemas } from '@aegle/plugin-sdk/engine';

for (const [file, schema] of Object.entries(sdkSchemas())) {
  const target = join(__dirname, '..', 'libs', 'plugin-sdk', file);
  writeFileSync(target, `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote ${target}\n`);
}

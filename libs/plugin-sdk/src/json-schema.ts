import { z } from 'zod';
import { manifestSchema, SDK_VERSION } from './manifest';

/** Where the generated schema lives, relative to the SDK's folder; plugins point `$schema` at it. */
export const PLUGIN_SCHEMA_FILE = 'plugin.schema.json';

/**
 * The JSON Schema of plugin.json, generated from the zod schema Aegle validates with, so editors
 * complete and check manifests as they are typed. Checks that need code (FHIRPath, SDK range,
 * cross-references, the model file) run in `aegle plugin validate`.
 */
export function pluginJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(manifestSchema, { io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    $id: `https://aegle.dev/schemas/plugin-${SDK_VERSION}.json`,
    title: 'Aegle plugin manifest (plugin.json)',
  };
}

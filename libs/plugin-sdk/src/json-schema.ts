import { z } from 'zod';
import { goldenCaseSchema } from './harness/golden';
import { manifestSchema, SDK_VERSION } from './manifest';

/** Where the generated schema lives, relative to the SDK's folder; plugins point `$schema` at it. */
export const PLUGIN_SCHEMA_FILE = 'plugin.schema.json';
/** The JSON Schema of a golden case (`golden/*.json`). */
export const GOLDEN_SCHEMA_FILE = 'golden.schema.json';

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

export function goldenJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(goldenCaseSchema, { io: 'input', unrepresentable: 'any' }),
    $id: `https://aegle.dev/schemas/golden-${SDK_VERSION}.json`,
    title: 'Aegle plugin golden case (golden/*.json)',
  };
}

/** Every schema file the SDK ships, by file name. */
export function sdkSchemas(): Record<string, Record<string, unknown>> {
  return { [PLUGIN_SCHEMA_FILE]: pluginJsonSchema(), [GOLDEN_SCHEMA_FILE]: goldenJsonSchema() };
}

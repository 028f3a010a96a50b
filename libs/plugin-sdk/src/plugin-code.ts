import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createJiti } from 'jiti';
import { Finding } from './findings';
import { FeatureValue } from './inputs';
import { PluginManifest } from './manifest';
import { PatientData } from './patient-data';

/** What `extract()` is given: the record (within the plugin's data scope) and what is already known. */
export interface ExtractContext {
  /** The patient's record; reads outside the plugin's data scope stop the run. */
  data: PatientData;
  /** The notification's focus resource, when its type is within the plugin's data scope. */
  focus?: fhir4.Resource;
  /** The time the run happens at (fixed in golden cases). */
  now: Date;
  manifest: PluginManifest;
  /** The features the manifest declares, already gathered and converted. */
  features: Readonly<Record<string, FeatureValue>>;
  /** For a chained run (`"after"` trigger): the upstream plugin's findings on the same event. */
  upstream?: { pluginId: string; version: string; findings: ReadonlyArray<{ code: string; value: number }> };
}

/**
 * A value `extract()` computed: a number, or a number with its unit and the resource it came from;
 * `undefined` when the data is not there (a required feature then makes the run skip).
 */
export type ExtractedValue = number | Omit<FeatureValue, 'name'> | undefined;

export interface InterpretContext {
  manifest: PluginManifest;
  /** The model's raw outputs: one row per output tensor. */
  outputs: Readonly<Record<string, number[]>>;
  features: Readonly<Record<string, FeatureValue>>;
  /** The findings the manifest's `outputs` made of the model's outputs. */
  findings: Finding[];
}

/** A plugin's optional code (its `index.ts`), for what the manifest cannot say. */
export interface PluginCode {
  /** Computes the features declared with `"source": { "from": "plugin" }`. */
  extract?(context: ExtractContext): Promise<Record<string, ExtractedValue>> | Record<string, ExtractedValue>;
  /** Adjusts, adds to or drops the findings before they become Observations. */
  interpret?(context: InterpretContext): Promise<Finding[]> | Finding[];
}

const BRAND = Symbol.for('aegle.plugin-code');

/**
 * Declares a plugin's code. The default export of a plugin's `index.ts`:
 *
 * ```ts
 * import { definePlugin } from '@aegle/plugin-sdk';
 * export default definePlugin({ extract: ({ features }) => ({ bmi: … }) });
 * ```
 */
export function definePlugin(code: PluginCode): PluginCode {
  const unknown = Object.keys(code).filter((k) => k !== 'extract' && k !== 'interpret');
  if (unknown.length > 0) throw new Error(`definePlugin: unknown hook ${unknown.join(', ')}`);
  return Object.assign(Object.create(null) as object, code, { [BRAND]: true }) as PluginCode;
}

function isPluginCode(value: unknown): value is PluginCode {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** The file a plugin's code lives in, if it has any: `index.ts`, else `index.js` (npm packages). */
export function pluginCodeFile(dir: string): string | undefined {
  return ['index.ts', 'index.js'].map((name) => join(dir, name)).find((file) => existsSync(file));
}

/**
 * Loads a plugin's `index.ts` as it is, with no build step (jiti), resolving `@aegle/plugin-sdk` to
 * this SDK so vendors need nothing installed beside Aegle.
 */
export async function loadPluginCode(dir: string): Promise<PluginCode | undefined> {
  const file = pluginCodeFile(dir);
  if (!file) return undefined;
  const loaded = await importWithSdk(file);
  if (!isPluginCode(loaded)) {
    throw new Error(`${file.slice(dir.length + 1)} must export default definePlugin({ … })`);
  }
  return loaded;
}

/**
 * Imports a TypeScript or JavaScript file of a plugin (its code, its model build script) as it is,
 * with `@aegle/plugin-sdk` (and `@aegle/plugin-sdk/onnx`, the graph builder) resolved to this SDK.
 */
export async function importWithSdk<T = unknown>(file: string): Promise<T> {
  // The plugin gets this very SDK instance (not a second copy): same classes, same brand.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('./index') as Record<string, unknown>;
  const jiti = createJiti(__filename, {
    virtualModules: { '@aegle/plugin-sdk': sdk },
    // Model build scripts only: loaded when one imports it, so the engine never needs onnx-proto.
    alias: { '@aegle/plugin-sdk/onnx': join(__dirname, 'onnx', 'graph-builder') },
    moduleCache: false,
    interopDefault: true,
  });
  // The synchronous loader: it works wherever the plugin runs (the engine, the CLI, a test
  // runner's sandbox), where the asynchronous one needs native dynamic import.
  const loaded = jiti(file) as { default?: unknown };
  return (loaded?.default ?? loaded) as T;
}

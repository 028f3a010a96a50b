import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import { satisfies } from 'semver';
import { z } from 'zod';
import { manifestSchema, PluginManifest, SDK_VERSION } from './manifest';
import { loadPluginCode, PluginCode } from './plugin-code';

/** A tensor as the model file itself declares it (an ONNX session's input or output metadata). */
export interface TensorMetadata {
  name: string;
  type: string;
  shape: Array<number | string>;
}

export interface ModelMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** A plugin folder that must not load, with every reason why. */
export class PluginRejection extends Error {
  override name = 'PluginRejection';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

type Compiled = (resource: unknown) => unknown[];

/** A trigger ready to evaluate: a focus resource type with its compiled criteria, or a chained plugin. */
export type CompiledTrigger =
  | { resourceType: string; criteria?: Compiled; after?: undefined }
  | { after: string; resourceType?: undefined };

/** A plugin folder that passed the checks that need no model runtime. */
export interface PluginFolder {
  dir: string;
  manifest: PluginManifest;
  /** `id@version`. */
  key: string;
  triggers: CompiledTrigger[];
  code?: PluginCode;
  modelBytes: Uint8Array;
}

/** Formats zod's issues as `plugin.json <path>: <message>`, naming inputs and outputs by name. */
export function describeManifestIssues(error: z.ZodError, json: unknown): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)';
    const named = nameOf(json, issue.path);
    return `plugin.json ${path}${named ? ` ("${named}")` : ''}: ${issue.message}`;
  });
}

function nameOf(json: unknown, path: PropertyKey[]): string | undefined {
  if ((path[0] !== 'inputs' && path[0] !== 'outputs') || typeof path[1] !== 'number') return undefined;
  const entry = (json as Record<string, Array<Record<string, unknown>>>)?.[path[0]]?.[path[1]];
  const name = entry?.name ?? entry?.tensor;
  return typeof name === 'string' ? name : undefined;
}

/** Parses and checks a manifest against the schema and this SDK's version. */
export function parseManifest(json: unknown): PluginManifest {
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new PluginRejection(describeManifestIssues(parsed.error, json));
  if (!satisfies(SDK_VERSION, parsed.data.sdk)) {
    throw new PluginRejection([
      `plugin.json sdk: the plugin needs SDK ${parsed.data.sdk}, this Aegle provides ${SDK_VERSION}`,
    ]);
  }
  return parsed.data;
}

export async function readManifest(dir: string): Promise<PluginManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, 'plugin.json'), 'utf8');
  } catch {
    throw new PluginRejection(['plugin.json cannot be read']);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PluginRejection([`plugin.json is not valid JSON: ${(error as Error).message}`]);
  }
  return parseManifest(json);
}

/**
 * Reads and checks a plugin folder: manifest schema, SDK range, model sha256, FHIRPath criteria and
 * the plugin's code. Every problem is collected; any makes a {@link PluginRejection}.
 */
export async function readPluginFolder(dir: string): Promise<PluginFolder> {
  const manifest = await readManifest(dir);
  const problems: string[] = [];
  const modelBytes = await readFile(join(dir, manifest.model.file)).catch(() => {
    problems.push(`model.file: ${manifest.model.file} cannot be read`);
    return undefined;
  });
  if (modelBytes) {
    const sha256 = createHash('sha256').update(modelBytes).digest('hex');
    if (sha256 !== manifest.model.sha256) {
      problems.push(
        `model.sha256 is ${manifest.model.sha256} but ${manifest.model.file} hashes to ${sha256}: the model file is not the one the manifest describes`,
      );
    }
  }
  const triggers = manifest.triggers.map((t, i): CompiledTrigger => {
    if (t.after) return { after: t.after };
    try {
      return {
        resourceType: t.resourceType!,
        ...(t.criteria ? { criteria: fhirpath.compile(t.criteria, r4Model) as Compiled } : {}),
      };
    } catch (error) {
      problems.push(`triggers.${i}.criteria: invalid FHIRPath: ${firstLine(error)}`);
      return { resourceType: t.resourceType! };
    }
  });
  let code: PluginCode | undefined;
  try {
    code = await loadPluginCode(dir);
  } catch (error) {
    problems.push(`index.ts cannot be loaded: ${firstLine(error)}`);
  }
  for (const [i, exclusion] of manifest.exclusions.entries()) {
    if (!exclusion.condition) continue;
    const where = `exclusions.${i}.condition.valueSet: ${exclusion.condition.valueSet}`;
    const text = await readFile(join(dir, exclusion.condition.valueSet), 'utf8').catch(() => undefined);
    if (text === undefined) {
      problems.push(`${where} cannot be read`);
      continue;
    }
    try {
      exclusion.condition.codes = valueSetCodes(JSON.parse(text));
    } catch (error) {
      problems.push(`${where}: ${firstLine(error)}`);
    }
  }
  if (manifest.inputs.some((f) => f.source.from === 'plugin') && !code?.extract && problems.length === 0) {
    problems.push(
      'inputs with "source": { "from": "plugin" } need an index.ts whose definePlugin has extract()',
    );
  }
  if (problems.length > 0 || !modelBytes) throw new PluginRejection(problems);
  return {
    dir,
    manifest,
    key: `${manifest.id}@${manifest.version}`,
    triggers,
    ...(code ? { code } : {}),
    modelBytes,
  };
}

/** Code systems whose hierarchy is the code's prefix, so `is-a` needs no terminology server. */
const PREFIX_HIERARCHIES = new Set(['http://hl7.org/fhir/sid/icd-10-cm', 'http://hl7.org/fhir/sid/icd-10']);

/**
 * The `system|code` patterns of a FHIR ValueSet's compose (enumerated concepts, and `is-a` filters
 * on ICD-10, whose hierarchy is the code's prefix); anything else needs a terminology server and
 * is refused rather than half-read.
 */
export function valueSetCodes(valueSet: fhir4.ValueSet): string[] {
  if (valueSet?.resourceType !== 'ValueSet') throw new Error('is not a FHIR ValueSet');
  const codes: string[] = [];
  for (const include of valueSet.compose?.include ?? []) {
    if (!include.system || include.valueSet?.length)
      throw new Error('each include needs a system and no nested valueSet');
    codes.push(...(include.concept ?? []).map((c) => `${include.system}|${c.code}`));
    for (const filter of include.filter ?? []) {
      if (filter.op !== 'is-a' || filter.property !== 'concept' || !PREFIX_HIERARCHIES.has(include.system))
        throw new Error(
          `filter ${filter.property} ${filter.op} on ${include.system} needs a terminology server: enumerate the concepts`,
        );
      codes.push(`${include.system}|${filter.value}*`);
    }
  }
  if (codes.length === 0) throw new Error('includes no concept');
  return codes;
}

/** Names, element types and fixed dimensions must agree with the model's own metadata. */
export function checkModelMetadata(manifest: PluginManifest, model: ModelMetadata): string[] {
  return [
    ...compareTensors('model.inputs', manifest.model.inputs, model.inputs),
    ...compareTensors('model.outputs', manifest.model.outputs, model.outputs),
    ...manifest.model.inputs.flatMap((t, i) => {
      const size = model.inputs.find((m) => m.name === t.name)?.shape.at(-1);
      const image = manifest.inputs.some((f) => f.source.from === 'image' && t.features.includes(f.name));
      return !image && typeof size === 'number' && size > 0 && size !== t.features.length
        ? [`model.inputs.${i}.features lists ${t.features.length} features but the model takes ${size}`]
        : [];
    }),
  ];
}

function compareTensors(
  where: string,
  declared: Array<{ name: string; type: string; shape: Array<number | string> }>,
  actual: TensorMetadata[],
): string[] {
  const problems: string[] = [];
  declared.forEach((tensor, i) => {
    const real = actual.find((a) => a.name === tensor.name);
    if (!real) {
      problems.push(
        `${where}.${i}: the model has no tensor "${tensor.name}" (it has ${actual.map((a) => a.name).join(', ')})`,
      );
      return;
    }
    if (real.type !== tensor.type)
      problems.push(`${where}.${i}: "${tensor.name}" is ${real.type} in the model, not ${tensor.type}`);
    const fixed = (d: number | string) => (typeof d === 'number' && d > 0 ? d : 'dynamic');
    if (
      real.shape.length !== tensor.shape.length ||
      real.shape.some((d, j) => fixed(d) !== fixed(tensor.shape[j]))
    ) {
      problems.push(
        `${where}.${i}: "${tensor.name}" has shape [${real.shape.join(', ')}] in the model, not [${tensor.shape.join(', ')}]`,
      );
    }
  });
  const extra = actual.filter((a) => !declared.some((d) => d.name === a.name));
  if (where === 'model.inputs' && extra.length > 0) {
    problems.push(
      `${where}: the model also needs ${extra.map((a) => `"${a.name}"`).join(', ')}, which the manifest does not feed`,
    );
  }
  return problems;
}

/** True when a trigger on the focus resource fires. */
export function triggersOn(triggers: CompiledTrigger[], resource: fhir4.Resource): boolean {
  return triggers.some(
    (t) => t.resourceType === resource.resourceType && (!t.criteria || isTrue(t.criteria(resource))),
  );
}

/** True when the plugin follows (is chained after) that plugin. */
export function follows(triggers: CompiledTrigger[], pluginId: string): boolean {
  return triggers.some((t) => t.after === pluginId);
}

function isTrue(result: unknown[]): boolean {
  return result.length > 0 && result.every((v) => v === true);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}

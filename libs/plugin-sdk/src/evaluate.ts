import { ImageRefusal } from '@aegle/imaging';
import { excludedBecause } from './exclusions';
import { Finding, interpretOutputs } from './findings';
import { FeatureProvenance, FeatureValue, gatherInputs } from './inputs';
import { PluginManifest } from './manifest';
import { PatientData } from './patient-data';
import { ExtractContext, ExtractedValue, PluginCode } from './plugin-code';
import { assertLabelsAllowed, DataScopeError, ScopedPatientData } from './scope';

/** Runs the model on one row: for each input tensor, its numbers (the batch dimension left out). */
export type Infer = (row: Record<string, number[]>) => Promise<Record<string, number[]>>;

export interface EvaluationOptions {
  now: Date;
  /** The event's focus resource; its security labels are checked before anything else. */
  focus?: fhir4.Resource;
  infer: Infer;
  upstream?: ExtractContext['upstream'];
}

export type Evaluation =
  | { status: 'skipped'; reason: string; features: Record<string, FeatureValue> }
  | {
      status: 'succeeded';
      features: Record<string, FeatureValue>;
      sources: FeatureProvenance[];
      /** Clinical time of the newest input. */
      effective?: string;
      raw: Record<string, number[]>;
      findings: Finding[];
    };

/** A plugin as the pipeline needs it: its manifest and, when it has an index.ts, its code. */
export interface EvaluablePlugin {
  manifest: PluginManifest;
  code?: PluginCode;
}

/**
 * One run of a plugin, the same in Aegle and in the offline harness: check the data scope, gather
 * the declared inputs, let the plugin's code extract the rest, run the model, turn its outputs into
 * findings. Missing or out-of-range data and restricted data are skips with a reason; a throw from
 * the plugin's code or the model propagates (the caller records a failed run).
 */
export async function evaluatePlugin(
  plugin: EvaluablePlugin,
  data: PatientData,
  options: EvaluationOptions,
): Promise<Evaluation> {
  const { manifest, code } = plugin;
  try {
    if (options.focus) assertLabelsAllowed(options.focus, manifest.dataScope, 'focus');
    const scoped = new ScopedPatientData(data, manifest.dataScope);
    // A patient the model was not made for gets no result, however complete the inputs.
    const excluded = await excludedBecause(manifest, scoped, options.now);
    if (excluded) return { status: 'skipped', reason: excluded, features: {} };
    const gathered = await gatherInputs(manifest, scoped, options.now, options.focus);
    if (gathered.status === 'insufficient') {
      return {
        status: 'skipped',
        reason: `insufficient data: ${gathered.reasons.join('; ')}`,
        features: gathered.features,
      };
    }
    const features = { ...gathered.features };
    const reasons = await extractWithCode(plugin, features, {
      data: scoped,
      focus:
        options.focus && manifest.dataScope.resourceTypes.includes(options.focus.resourceType)
          ? options.focus
          : undefined,
      now: options.now,
      manifest,
      features: gathered.features,
      upstream: options.upstream,
    });
    if (reasons.length > 0) {
      return { status: 'skipped', reason: `insufficient data: ${reasons.join('; ')}`, features };
    }
    const row = Object.fromEntries(
      manifest.model.inputs.map((tensor) => [
        tensor.name,
        tensor.features.flatMap((name) => features[name].values ?? [features[name].value]),
      ]),
    );
    const raw = await options.infer(row);
    let findings = interpretOutputs(
      manifest,
      Object.fromEntries(Object.entries(raw).map(([name, values]) => [name, values[0]])),
      features,
    );
    if (code?.interpret) findings = await code.interpret({ manifest, outputs: raw, features, findings });
    const sources = uniqueSources([
      ...gathered.sources,
      ...Object.values(features).flatMap((f) => (f.source ? [f.source] : [])),
    ]);
    const effective = sources
      .map((s) => s.effective)
      .filter((e): e is string => !!e)
      .sort()
      .at(-1);
    return { status: 'succeeded', features, sources, ...(effective ? { effective } : {}), raw, findings };
  } catch (error) {
    if (error instanceof DataScopeError)
      return { status: 'skipped', reason: `restricted data: ${error.message}`, features: {} };
    if (error instanceof ImageRefusal)
      return { status: 'skipped', reason: `image refused: ${error.message}`, features: {} };
    throw error;
  }
}

/** Fills the `from: plugin` features with the plugin's `extract()`; returns why any is unusable. */
async function extractWithCode(
  plugin: EvaluablePlugin,
  features: Record<string, FeatureValue>,
  context: ExtractContext,
): Promise<string[]> {
  const specs = plugin.manifest.inputs.filter((spec) => spec.source.from === 'plugin');
  if (specs.length === 0) return [];
  if (!plugin.code?.extract)
    throw new Error('the manifest has inputs from the plugin but its code has no extract()');
  const computed = await plugin.code.extract(context);
  const reasons: string[] = [];
  for (const spec of specs) {
    const value = normalise(computed?.[spec.name]);
    if (value === undefined) {
      if (!spec.required && spec.default !== undefined) {
        features[spec.name] = { name: spec.name, value: spec.default, defaulted: true };
      } else {
        reasons.push(`${spec.name}: ${spec.ifMissing ?? 'the plugin could not compute it'}`);
      }
      continue;
    }
    const { min, max } = spec.valid ?? {};
    if ((min !== undefined && value.value < min) || (max !== undefined && value.value > max)) {
      reasons.push(
        `${spec.name}: ${value.value} is outside the validated range ${min ?? '−∞'}–${max ?? '∞'}`,
      );
    }
    features[spec.name] = { name: spec.name, ...value };
  }
  return reasons;
}

function normalise(value: ExtractedValue): Omit<FeatureValue, 'name'> | undefined {
  if (value === undefined) return undefined;
  const feature = typeof value === 'number' ? { value } : value;
  return Number.isFinite(feature.value) ? feature : undefined;
}

function uniqueSources(sources: FeatureProvenance[]): FeatureProvenance[] {
  return [...new Map(sources.map((s) => [s.reference, s])).values()];
}

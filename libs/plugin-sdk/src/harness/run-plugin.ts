import { evaluatePlugin } from '../evaluate';
import { FeatureValue } from '../inputs';
import { checkModelMetadata, PluginFolder, PluginRejection, readPluginFolder, triggersOn } from '../loader';
import { patientIdOf } from '../patient-record';
import { resultContextOf, resultObservations, runResultOf } from '../results';
import { BundlePatientData } from './bundle-patient-data';
import { openModel } from './onnx-model';

/** The result of a validation: the plugin's key when valid, else every problem found. */
export type Validation = { valid: true; key: string } | { valid: false; problems: string[] };

/**
 * Everything Aegle checks when it loads a plugin, offline: the manifest schema, the SDK range, the
 * model's sha256, the FHIRPath criteria, the plugin's code, and the model's own tensor names, types
 * and shapes against the manifest.
 */
export async function validatePlugin(dir: string): Promise<Validation> {
  try {
    const folder = await readPluginFolder(dir);
    const model = await openModel(folder.modelBytes).catch((error: Error) => {
      throw new PluginRejection([
        `model.file: ${folder.manifest.model.file} is not a model onnxruntime can load: ${error.message.split('\n')[0]}`,
      ]);
    });
    await model.release();
    const problems = checkModelMetadata(folder.manifest, model);
    return problems.length > 0 ? { valid: false, problems } : { valid: true, key: folder.key };
  } catch (error) {
    if (error instanceof PluginRejection) return { valid: false, problems: error.problems };
    throw error;
  }
}

export interface RunPluginOptions {
  /** The time the run happens at (ages, look-back windows); default now. */
  now?: Date | string;
  /**
   * The event's focus, as `Type/id` of a resource in the bundle; default the Patient. Its security
   * labels are checked, and it must make a trigger fire.
   */
  focus?: string;
  /** The PACS of an offline run: DICOM files by SOP Instance UID, for an ImagingStudy focus. */
  dicomInstances?: ReadonlyMap<string, Uint8Array>;
}

export type PluginRunResult =
  | { status: 'skipped'; reason: string; features: Record<string, FeatureValue> }
  | { status: 'succeeded'; observations: fhir4.Observation[]; features: Record<string, FeatureValue> };

/** The source id results carry in the harness, in place of an EHR's. */
export const HARNESS_SOURCE_ID = 'offline';

/**
 * Runs a plugin on a FHIR Bundle, offline, exactly as Aegle would on an event: the Observations it
 * would write, or why it would skip. Throws when the plugin does not validate or its code throws.
 */
export async function runPlugin(
  dirOrFolder: string | PluginFolder,
  bundle: fhir4.Bundle,
  options: RunPluginOptions = {},
): Promise<PluginRunResult> {
  const folder = typeof dirOrFolder === 'string' ? await readPluginFolder(dirOrFolder) : dirOrFolder;
  const now = options.now ? new Date(options.now) : new Date();
  const resources = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  const focus = options.focus
    ? resources.find((r) => `${r.resourceType}/${r.id}` === options.focus)
    : resources.find((r) => r.resourceType === 'Patient');
  if (!focus) throw new Error(`the bundle has no ${options.focus ?? 'Patient'}`);
  if (!triggersOn(folder.triggers, focus) && !folder.manifest.triggers.some((t) => t.after)) {
    return {
      status: 'skipped',
      reason: `no trigger fires on ${focus.resourceType}/${focus.id}`,
      features: {},
    };
  }
  const patientId = patientIdOf(focus);
  const model = await openModel(folder.modelBytes);
  try {
    const evaluation = await evaluatePlugin(
      folder,
      new BundlePatientData(bundle, patientId, focus, options.dicomInstances),
      {
        now,
        focus,
        infer: (row) => model.run(row),
      },
    );
    if (evaluation.status === 'skipped') return evaluation;
    const result = runResultOf(evaluation, { focus: `${focus.resourceType}/${focus.id}`, now });
    const context = resultContextOf(result, {
      sourceId: HARNESS_SOURCE_ID,
      subject: `Patient/${patientId}`,
      issued: now.toISOString(),
      device: `Device/${folder.manifest.id}-${folder.manifest.version}`,
    });
    const observations = resultObservations(folder.manifest, result.findings, context).map(
      (r) => r.observation,
    );
    return { status: 'succeeded', observations, features: evaluation.features };
  } finally {
    await model.release();
  }
}

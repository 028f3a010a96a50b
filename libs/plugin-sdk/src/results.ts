import type { Evaluation } from './evaluate';
import type { Finding } from './findings';
import type { OutputSpec, PluginManifest } from './manifest';
import { buildObservation, ComponentDraft, ModelIdentity, resultKey } from './resource-builders';
import type { RunResult, StoredFinding } from './run-result';

export type { RunResult, StoredFinding } from './run-result';

/** Where and about what a plugin's findings are written: the run's context. */
export interface ResultContext {
  sourceId: string;
  /** Reference of the event's focus (version-specific when known). */
  focus: string;
  subject: string;
  encounter?: string;
  effective?: string;
  issued: string;
  derivedFrom: string[];
  /** Reference of the model's Device. */
  device: string;
}

/** The findings of a run as it stores them. */
export function storedFindings(findings: Finding[]): StoredFinding[] {
  return findings.map((f) => ({
    tensor: f.output.tensor,
    code: f.output.code,
    value: f.value,
    ...(f.comparator ? { comparator: f.comparator } : {}),
    unit: f.output.unit,
    ...(f.band ? { band: f.band } : {}),
    ...(f.note ? { note: f.note } : {}),
  }));
}

/** What a successful evaluation stores: its outputs and findings, the inputs' references and time. */
export function runResultOf(
  evaluation: Extract<Evaluation, { status: 'succeeded' }>,
  run: { focus: string; encounter?: string; now: Date },
): RunResult {
  return {
    raw: evaluation.raw,
    findings: storedFindings(evaluation.findings),
    effective: evaluation.effective ?? run.now.toISOString(),
    sources: evaluation.sources.map((s) => s.reference),
    focus: run.focus,
    ...(run.encounter ? { encounter: run.encounter } : {}),
  };
}

/** Where a run's result is written, from what the run stored and when it is written. */
export function resultContextOf(
  result: RunResult,
  run: { sourceId: string; subject: string; device: string; issued: string },
): ResultContext {
  return {
    ...run,
    focus: result.focus,
    ...(result.encounter ? { encounter: result.encounter } : {}),
    effective: result.effective,
    derivedFrom: result.sources,
  };
}

/** One Observation to write: a single finding, or several sharing a code as its components. */
export interface ResultGroup<F extends StoredFinding = StoredFinding> {
  /** The first output of the group: its code, category, unit and method head the Observation. */
  spec: OutputSpec;
  findings: Array<{ finding: F; spec: OutputSpec }>;
}

/** A result ready to write, with the identifier that makes writing it idempotent. */
export interface ResultObservation {
  identifier: string;
  spec: OutputSpec;
  observation: fhir4.Observation;
}

/** The model identity of a manifest, as the Device and the Observations name it. */
export function modelIdentityOf(manifest: PluginManifest): ModelIdentity {
  return {
    pluginId: manifest.id,
    version: manifest.version,
    title: manifest.title,
    publisher: manifest.publisher,
    modelSha256: manifest.model.sha256,
    ...(/^https?:\/\//.test(manifest.modelCard) ? { modelCardUrl: manifest.modelCard } : {}),
  };
}

/**
 * Findings by the Observation they become: outputs that share a code and declare a `component`
 * are one Observation with components; every other output is an Observation of its own.
 */
export function groupFindings<F extends StoredFinding>(findings: F[], specs: OutputSpec[]): ResultGroup<F>[] {
  const groups = new Map<string, ResultGroup<F>>();
  for (const finding of findings) {
    const spec = specs.find((o) => o.tensor === finding.tensor && o.code.code === finding.code.code);
    if (!spec) continue;
    const key = spec.component
      ? `${spec.code.system}|${spec.code.code}`
      : `${spec.tensor}|${spec.code.system}|${spec.code.code}`;
    const group = groups.get(key) ?? { spec, findings: [] };
    group.findings.push({ finding, spec });
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * The Observations a run's findings become, each with its deterministic identifier: the engine
 * writes them, the offline harness prints them — one implementation, so what a vendor tests is
 * what the EHR receives.
 */
export function resultObservations(
  manifest: PluginManifest,
  findings: StoredFinding[],
  context: ResultContext,
): ResultObservation[] {
  const model = modelIdentityOf(manifest);
  // An image model's result is about the study (or document) it read, of the patient it names.
  const readsImage = manifest.inputs.some((f) => f.source.from === 'image');
  return groupFindings(findings, manifest.outputs).map((group) => {
    const { spec } = group;
    const identifier = resultKey({
      sourceId: context.sourceId,
      pluginId: manifest.id,
      version: manifest.version,
      focus: context.focus,
      output: `${spec.code.system}|${spec.code.code}`,
    });
    const single = group.findings.length === 1 && !spec.component ? group.findings[0].finding : undefined;
    const components: ComponentDraft[] | undefined = single
      ? undefined
      : group.findings.map(({ finding, spec: part }) => ({
          code: part.component ?? part.code,
          value: finding.value,
          ...(finding.comparator ? { comparator: finding.comparator } : {}),
          unit: part.unit,
          unitDisplay: part.unitDisplay,
          interpretation: finding.band && { text: finding.band.text, coding: finding.band.interpretation },
          referenceRange: part.referenceRange,
        }));
    const notes = [
      ...new Set(group.findings.map(({ finding }) => finding.note).filter((n): n is string => !!n)),
    ];
    const observation = buildObservation({
      identifier,
      status: manifest.policy.observationStatus,
      code: spec.code,
      category: spec.category,
      subject: context.subject,
      encounter: context.encounter,
      effective: context.effective,
      issued: context.issued,
      value: single?.value,
      ...(single?.comparator ? { comparator: single.comparator } : {}),
      unit: spec.unit,
      unitDisplay: spec.unitDisplay,
      interpretation: single?.band && { text: single.band.text, coding: single.band.interpretation },
      referenceRange: single ? spec.referenceRange : undefined,
      components,
      derivedFrom: context.derivedFrom,
      ...(readsImage ? { focus: context.focus } : {}),
      device: context.device,
      method: spec.method,
      note: notes.length > 0 ? notes.join('\n') : undefined,
      model,
    });
    return { identifier, spec, observation };
  });
}

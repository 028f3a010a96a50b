import { createHash } from 'node:crypto';
import type { PluginManifest } from './manifest';

/** Aegle's namespace for its identifiers and code systems. */
export const AEGLE_FHIR_BASE = 'https://fhir.aegle.dev';
export const RESULT_IDENTIFIER_SYSTEM = `${AEGLE_FHIR_BASE}/sid/result-key`;
export const MODEL_IDENTIFIER_SYSTEM = `${AEGLE_FHIR_BASE}/sid/model`;

/** HL7 AI Transparency on FHIR: the security label that says an AI asserted this. */
export const AI_ASSERTED: fhir4.Coding = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'AIAST',
  display: 'Artificial Intelligence asserted',
};

/** The model version a result came from, as the EHR will show it. */
export interface ModelIdentity {
  pluginId: string;
  version: string;
  title: string;
  publisher: string;
  modelSha256: string;
  modelCardUrl?: string;
}

export interface ObservationDraft {
  /** Deterministic, so the same result is never written twice (see {@link resultKey}). */
  identifier: string;
  status: 'preliminary' | 'final' | 'registered';
  code: fhir4.Coding;
  category?: fhir4.Coding;
  subject: string;
  encounter?: string;
  effective?: string;
  issued: string;
  value: number;
  unit: string;
  unitDisplay?: string;
  interpretation?: { text: string; coding?: fhir4.Coding };
  referenceRange?: { low?: number; high?: number; text?: string };
  derivedFrom: string[];
  device: string;
  method?: string;
  model: ModelIdentity;
}

/** The deterministic key of one result: same source, plugin version, focus version and output → same key. */
export function resultKey(parts: {
  sourceId: string;
  pluginId: string;
  version: string;
  focus: string;
  output: string;
}): string {
  const canonical = [parts.sourceId, parts.pluginId, parts.version, parts.focus, parts.output].join('|');
  return createHash('sha256').update(canonical).digest('hex');
}

export function modelIdentifier(model: ModelIdentity): string {
  return `${model.pluginId}@${model.version}`;
}

export function buildDevice(model: ModelIdentity): fhir4.Device {
  return {
    resourceType: 'Device',
    identifier: [{ system: MODEL_IDENTIFIER_SYSTEM, value: modelIdentifier(model) }],
    status: 'active',
    manufacturer: model.publisher,
    deviceName: [{ name: model.title, type: 'model-name' }],
    modelNumber: model.pluginId,
    version: [{ value: model.version }, { type: { text: 'model sha256' }, value: model.modelSha256 }],
    type: {
      coding: [
        { system: 'http://snomed.info/sct', code: '706689003', display: 'Application program software' },
      ],
      text: 'Clinical AI model (software)',
    },
    ...(model.modelCardUrl ? { url: model.modelCardUrl } : {}),
    note: [{ text: `Clinical decision-support model run by Aegle. Model file sha256 ${model.modelSha256}.` }],
  };
}

export function buildObservation(draft: ObservationDraft): fhir4.Observation {
  const note =
    `Computed by ${draft.model.title} (${draft.model.pluginId} ${draft.model.version}), an AI/statistical model run by Aegle. ` +
    'Decision support, not reviewed by a clinician.';
  return {
    resourceType: 'Observation',
    meta: { security: [AI_ASSERTED] },
    identifier: [{ system: RESULT_IDENTIFIER_SYSTEM, value: draft.identifier }],
    status: draft.status,
    ...(draft.category ? { category: [{ coding: [draft.category] }] } : {}),
    code: { coding: [draft.code], text: draft.code.display },
    subject: { reference: draft.subject },
    ...(draft.encounter ? { encounter: { reference: draft.encounter } } : {}),
    ...(draft.effective ? { effectiveDateTime: draft.effective } : {}),
    issued: draft.issued,
    valueQuantity: {
      value: draft.value,
      unit: draft.unitDisplay ?? draft.unit,
      system: 'http://unitsofmeasure.org',
      code: draft.unit,
    },
    ...(draft.interpretation
      ? {
          interpretation: [
            {
              ...(draft.interpretation.coding ? { coding: [draft.interpretation.coding] } : {}),
              text: draft.interpretation.text,
            },
          ],
        }
      : {}),
    ...(draft.referenceRange ? { referenceRange: [referenceRange(draft.referenceRange, draft.unit)] } : {}),
    ...(draft.method ? { method: { text: draft.method } } : {}),
    device: { reference: draft.device, display: `${draft.model.title} ${draft.model.version}` },
    derivedFrom: draft.derivedFrom.map((reference) => ({ reference })),
    note: [{ text: note }],
  };
}

function referenceRange(
  range: { low?: number; high?: number; text?: string },
  unit: string,
): fhir4.ObservationReferenceRange {
  const quantity = (value: number): fhir4.Quantity => ({
    value,
    unit,
    system: 'http://unitsofmeasure.org',
    code: unit,
  });
  return {
    ...(range.low !== undefined ? { low: quantity(range.low) } : {}),
    ...(range.high !== undefined ? { high: quantity(range.high) } : {}),
    ...(range.text ? { text: range.text } : {}),
  };
}

export function buildProvenance(input: {
  target: string;
  recorded: string;
  device: string;
  organization: string;
  sources: string[];
}): fhir4.Provenance {
  return {
    resourceType: 'Provenance',
    target: [{ reference: input.target }],
    recorded: input.recorded,
    activity: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation',
          code: 'CREATE',
          display: 'create',
        },
      ],
    },
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'author',
              display: 'Author',
            },
          ],
        },
        who: { reference: input.device },
        onBehalfOf: { display: input.organization },
      },
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'assembler',
              display: 'Assembler',
            },
          ],
        },
        who: { display: input.organization },
      },
    ],
    entity: input.sources.map((reference) => ({ role: 'source' as const, what: { reference } })),
  };
}

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

/** A finding as a run stores it (see {@link Finding}), enough to build its Observation later. */
export interface StoredFinding {
  tensor: string;
  code: { system: string; code: string; display?: string };
  value: number;
  band?: { text: string; interpretation?: { system: string; code: string; display?: string } };
}

/** The model identity of a manifest, as the Device and the Observations name it. */
export function modelIdentityOf(manifest: PluginManifest): ModelIdentity {
  return {
    pluginId: manifest.id,
    version: manifest.version,
    title: manifest.title,
    publisher: manifest.publisher,
    modelSha256: manifest.model.sha256,
  };
}

/**
 * The Observation one finding becomes, with its deterministic identifier: the engine writes it, the
 * offline harness prints it — one implementation, so what a vendor tests is what the EHR receives.
 */
export function resultObservation(
  manifest: PluginManifest,
  finding: StoredFinding,
  context: ResultContext,
): { identifier: string; observation: fhir4.Observation } | undefined {
  const spec = manifest.outputs.find((o) => o.tensor === finding.tensor && o.code.code === finding.code.code);
  if (!spec) return undefined;
  const identifier = resultKey({
    sourceId: context.sourceId,
    pluginId: manifest.id,
    version: manifest.version,
    focus: context.focus,
    output: `${finding.code.system}|${finding.code.code}`,
  });
  const observation = buildObservation({
    identifier,
    status: manifest.policy.observationStatus,
    code: spec.code,
    category: spec.category,
    subject: context.subject,
    encounter: context.encounter,
    effective: context.effective,
    issued: context.issued,
    value: finding.value,
    unit: spec.unit,
    unitDisplay: spec.unitDisplay,
    interpretation: finding.band && { text: finding.band.text, coding: finding.band.interpretation },
    referenceRange: spec.referenceRange,
    derivedFrom: context.derivedFrom,
    device: context.device,
    method: spec.method,
    model: modelIdentityOf(manifest),
  });
  return { identifier, observation };
}

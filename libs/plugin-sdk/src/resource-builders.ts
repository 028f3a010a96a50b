import { createHash } from 'node:crypto';

/** Aegle's namespace for its identifiers and code systems. */
export const AEGLE_FHIR_BASE = 'https://fhir.aegle.dev';
export const RESULT_IDENTIFIER_SYSTEM = `${AEGLE_FHIR_BASE}/sid/result-key`;
export const MODEL_IDENTIFIER_SYSTEM = `${AEGLE_FHIR_BASE}/sid/model`;
/** Tags each Observation with the plugin that produced it, so superseding can find its earlier ones. */
export const PLUGIN_TAG_SYSTEM = `${AEGLE_FHIR_BASE}/CodeSystem/plugin`;
/** On an earlier Observation: the newer Aegle Observation that superseded it. */
export const SUPERSEDED_BY_EXTENSION = `${AEGLE_FHIR_BASE}/StructureDefinition/superseded-by`;
/** FHIR R4 core extension: this Observation replaces a previous one (a revised value). */
export const OBSERVATION_REPLACES_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/observation-replaces';

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

/** One value of a multi-valued result, written as an Observation component. */
export interface ComponentDraft {
  code: fhir4.Coding;
  value: number;
  comparator?: '<' | '>';
  unit: string;
  unitDisplay?: string;
  interpretation?: { text: string; coding?: fhir4.Coding };
  referenceRange?: { low?: number; high?: number; text?: string };
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
  /** The value; absent when the result is carried by `components` alone. */
  value?: number;
  /** `<` or `>`: the value is a bound (a probability never reported as 0 or 100 %). */
  comparator?: '<' | '>';
  unit: string;
  unitDisplay?: string;
  interpretation?: { text: string; coding?: fhir4.Coding };
  referenceRange?: { low?: number; high?: number; text?: string };
  /** Several values the plugin emits under one code. */
  components?: ComponentDraft[];
  derivedFrom: string[];
  /** What the result is about when not the subject itself, e.g. the ImagingStudy an image model read. */
  focus?: string;
  device: string;
  method?: string;
  /** The plugin's own note for this result (e.g. the genotypes that drove a dose). */
  note?: string;
  model: ModelIdentity;
  /** The earlier Aegle Observation this one supersedes (a reference, or a transaction's urn:uuid). */
  replaces?: string;
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
    deviceName: [
      { name: model.title, type: 'user-friendly-name' },
      { name: model.pluginId, type: 'model-name' },
    ],
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

/** The targets R4 allows for Observation.derivedFrom. */
const DERIVED_FROM_TYPES = new Set([
  'DocumentReference',
  'ImagingStudy',
  'Media',
  'QuestionnaireResponse',
  'Observation',
  'MolecularSequence',
]);

export function buildObservation(draft: ObservationDraft): fhir4.Observation {
  const note =
    `Computed by ${draft.model.title} (${draft.model.pluginId} ${draft.model.version}), an AI/statistical model run by Aegle. ` +
    'Decision support, not reviewed by a clinician.';
  return {
    resourceType: 'Observation',
    meta: {
      security: [AI_ASSERTED],
      tag: [{ system: PLUGIN_TAG_SYSTEM, code: draft.model.pluginId, display: draft.model.title }],
    },
    ...(draft.replaces
      ? {
          extension: [{ url: OBSERVATION_REPLACES_EXTENSION, valueReference: { reference: draft.replaces } }],
        }
      : {}),
    identifier: [{ system: RESULT_IDENTIFIER_SYSTEM, value: draft.identifier }],
    status: draft.status,
    ...(draft.category ? { category: [{ coding: [draft.category] }] } : {}),
    code: { coding: [draft.code], text: draft.code.display },
    subject: { reference: draft.subject },
    ...(draft.focus ? { focus: [{ reference: draft.focus }] } : {}),
    ...(draft.encounter ? { encounter: { reference: draft.encounter } } : {}),
    ...(draft.effective ? { effectiveDateTime: draft.effective } : {}),
    issued: draft.issued,
    ...(draft.value !== undefined
      ? { valueQuantity: ucumQuantity(draft.value, draft.unit, draft.unitDisplay, draft.comparator) }
      : {}),
    ...(draft.interpretation ? { interpretation: [interpretation(draft.interpretation)] } : {}),
    ...(draft.referenceRange ? { referenceRange: [referenceRange(draft.referenceRange, draft.unit)] } : {}),
    ...(draft.method ? { method: { text: draft.method } } : {}),
    device: { reference: draft.device, display: `${draft.model.title} ${draft.model.version}` },
    // R4 limits derivedFrom to these types; every input (Patient, Condition, ...) is in the Provenance.
    derivedFrom: draft.derivedFrom
      .filter((reference) => DERIVED_FROM_TYPES.has(reference.split('/')[0]))
      .map((reference) => ({ reference })),
    note: [{ text: note }, ...(draft.note ? [{ text: draft.note }] : [])],
    ...(draft.components?.length
      ? {
          component: draft.components.map((c) => ({
            code: { coding: [c.code], text: c.code.display },
            valueQuantity: ucumQuantity(c.value, c.unit, c.unitDisplay, c.comparator),
            ...(c.interpretation ? { interpretation: [interpretation(c.interpretation)] } : {}),
            ...(c.referenceRange ? { referenceRange: [referenceRange(c.referenceRange, c.unit)] } : {}),
          })),
        }
      : {}),
  };
}

/**
 * The earlier Observation as it reads once a newer result supersedes it: R4 has no "superseded"
 * status, so `amended` (default) or `cancelled` changes the status, `replaces` leaves it, and in every
 * mode a note a clinician reads and an extension software reads point at the newer Observation.
 */
export function supersedeObservation(
  earlier: fhir4.Observation,
  change: { by: string; mode: 'amended' | 'cancelled' | 'replaces'; at: string },
): fhir4.Observation {
  return {
    ...earlier,
    ...(change.mode === 'replaces' ? {} : { status: change.mode }),
    extension: [
      ...(earlier.extension ?? []).filter((e) => e.url !== SUPERSEDED_BY_EXTENSION),
      { url: SUPERSEDED_BY_EXTENSION, valueReference: { reference: change.by } },
    ],
    note: [
      ...(earlier.note ?? []),
      {
        time: change.at,
        text:
          'Superseded: a newer result from the same model, computed from newer data, replaces this one. ' +
          'Do not use this value.',
      },
    ],
  };
}

function ucumQuantity(value: number, unit: string, display?: string, comparator?: '<' | '>'): fhir4.Quantity {
  return {
    value,
    ...(comparator ? { comparator } : {}),
    unit: display ?? unit,
    system: 'http://unitsofmeasure.org',
    code: unit,
  };
}

function interpretation(value: { text: string; coding?: fhir4.Coding }): fhir4.CodeableConcept {
  return { ...(value.coding ? { coding: [value.coding] } : {}), text: value.text };
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

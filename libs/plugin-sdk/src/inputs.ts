import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import { codingMatches, conceptMatches, conceptNamed } from './coding-match';
import { FeatureSpec, InputSource, PluginManifest } from './manifest';
import { PatientData } from './patient-data';
import { convertUnit } from './units';

/** Where one feature's value came from, for the audit trail and the Observation's `derivedFrom`. */
export interface FeatureProvenance {
  /** Version-specific reference when the EHR gave a version. */
  reference: string;
  effective?: string;
}

export interface FeatureValue {
  name: string;
  value: number;
  /** What the value means in the record's terms: a coded value's display, yes/no for a presence. */
  display?: string;
  unit?: string;
  /** Absent for defaults and for facts that are absences (no active diabetes Condition). */
  source?: FeatureProvenance;
  defaulted?: boolean;
}

export type GatherResult =
  | {
      status: 'complete';
      features: Record<string, FeatureValue>;
      sources: FeatureProvenance[];
      effective?: string;
    }
  | { status: 'insufficient'; reasons: string[]; features: Record<string, FeatureValue> };

interface Extracted {
  raw: unknown[];
  /** Why nothing was found, when the default description would mislead. */
  note?: string;
  source?: FeatureProvenance;
  /** A value that needs no further conversion (presence flags, age). */
  number?: number;
}

function provenanceOf(resource: fhir4.Resource, effective?: string): FeatureProvenance {
  const base = `${resource.resourceType}/${resource.id}`;
  const reference = resource.meta?.versionId ? `${base}/_history/${resource.meta.versionId}` : base;
  return { reference, ...(effective ? { effective } : {}) };
}

/** When an Observation happened: its effective time (a period's end, else start), else when it was issued. */
export function observationTime(observation: fhir4.Observation): string | undefined {
  return (
    observation.effectiveDateTime ??
    observation.effectivePeriod?.end ??
    observation.effectivePeriod?.start ??
    observation.issued
  );
}

type CompiledPath = (resource: fhir4.Resource) => unknown[];

/**
 * Compiled FHIRPath by expression: `fhirpath.evaluate` parses its expression on every call, which
 * cost more than the evaluation. The expressions come from the loaded manifests, so this stays small.
 */
const compiledPaths = new Map<string, CompiledPath>();

function evaluate(resource: fhir4.Resource, path: string): unknown[] {
  let compiled = compiledPaths.get(path);
  if (!compiled) {
    compiled = fhirpath.compile(path, r4Model) as CompiledPath;
    compiledPaths.set(path, compiled);
  }
  return compiled(resource);
}

/** Subtracts an ISO-8601 duration of years, months and days from a date. */
export function since(now: Date, duration: string | undefined): Date | undefined {
  if (!duration) return undefined;
  const match = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$/.exec(duration);
  if (!match) return undefined;
  const start = new Date(now);
  start.setUTCFullYear(start.getUTCFullYear() - Number(match[1] ?? 0));
  start.setUTCMonth(start.getUTCMonth() - Number(match[2] ?? 0));
  start.setUTCDate(start.getUTCDate() - Number(match[3] ?? 0));
  return start;
}

/** Whole years between a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) and `at`. */
export function ageInYears(birthDate: string, at: Date): number | undefined {
  const [year, month = 1, day = 1] = birthDate.split('-').map(Number);
  if (!Number.isFinite(year)) return undefined;
  let age = at.getUTCFullYear() - year;
  if (at.getUTCMonth() + 1 < month || (at.getUTCMonth() + 1 === month && at.getUTCDate() < day)) age -= 1;
  return age;
}

async function extract(source: InputSource, data: PatientData, now: Date): Promise<Extracted> {
  switch (source.from) {
    case 'patient': {
      const patient = await data.patient();
      return patient ? { raw: evaluate(patient, source.path), source: provenanceOf(patient) } : { raw: [] };
    }
    case 'age': {
      const patient = await data.patient();
      const age = patient?.birthDate ? ageInYears(patient.birthDate, now) : undefined;
      return age === undefined ? { raw: [] } : { raw: [age], number: age, source: provenanceOf(patient!) };
    }
    case 'observation': {
      const found = await data.observations(source.codes, since(now, source.lookback));
      for (const observation of found) {
        const raw = evaluate(observation, source.path ?? 'value');
        if (raw.length > 0) return { raw, source: provenanceOf(observation, observationTime(observation)) };
      }
      return found.length > 0
        ? {
            raw: [],
            note: `${found.length} Observation(s) with code ${source.codes.join(' or ')} but none with a value at ${source.path ?? 'value'}`,
          }
        : { raw: [] };
    }
    case 'member': {
      const members = (await data.members()).filter((o) => conceptMatches(o.code, source.codes));
      for (const observation of members) {
        const raw = evaluate(observation, source.path ?? 'value');
        if (raw.length > 0) return { raw, source: provenanceOf(observation, observationTime(observation)) };
      }
      return { raw: [] };
    }
    case 'condition': {
      const match = (await data.activeConditions()).find(
        (c) => conceptMatches(c.code, source.codes) || conceptNamed(c.code, source.names),
      );
      return {
        raw: [match ? 1 : 0],
        number: match ? 1 : 0,
        source: match && provenanceOf(match, match.onsetDateTime),
      };
    }
    case 'medication': {
      const match = (await data.activeMedications()).find(
        (m) =>
          m.codings.some((c) => codingMatches(c, source.codes)) ||
          conceptNamed({ coding: m.codings, text: m.text }, source.names),
      );
      return { raw: [match ? 1 : 0], number: match ? 1 : 0, source: match && provenanceOf(match.resource) };
    }
    case 'plugin':
      return { raw: [] };
  }
}

function mapKeys(value: unknown): string[] {
  if (typeof value === 'string' || typeof value === 'boolean') return [String(value)];
  const codings: fhir4.Coding[] = [];
  const object = value as fhir4.CodeableConcept & fhir4.Coding;
  if (object?.coding) codings.push(...object.coding);
  if (object?.code) codings.push(object);
  const keys = codings.flatMap((c) => [c.system && c.code ? `${c.system}|${c.code}` : undefined, c.code]);
  return [...keys, object?.text?.trim()].filter((k): k is string => !!k);
}

/** The words a clinician would use for a coded value. */
function displayOf(value: unknown, matchedKey: string): string {
  const object = value as fhir4.CodeableConcept & fhir4.Coding;
  const coding =
    object?.coding?.find((c) => matchedKey === c.code || matchedKey === `${c.system}|${c.code}`) ??
    (object?.code ? object : undefined);
  return object?.text?.trim() || coding?.display || coding?.code || matchedKey;
}

/** Turns what was extracted into the model's number, or says why it cannot. */
function toNumber(
  spec: FeatureSpec,
  extracted: Extracted,
): { value?: number; unit?: string; display?: string; problem?: string } {
  if (extracted.number !== undefined) {
    const presence = spec.source.from === 'condition' || spec.source.from === 'medication';
    return {
      value: extracted.number,
      display: presence ? (extracted.number ? 'yes' : 'no') : String(extracted.number),
    };
  }
  const value = extracted.raw[0];
  if (spec.map) {
    for (const key of mapKeys(value))
      if (key in spec.map) return { value: spec.map[key], display: displayOf(value, key) };
    if (spec.otherwise !== undefined)
      return { value: spec.otherwise, display: displayOf(value, mapKeys(value)[0] ?? 'other') };
    return { problem: 'its value is not one the model knows' };
  }
  if (typeof value === 'number') return { value };
  if (typeof value === 'boolean') return { value: value ? 1 : 0 };
  const quantity = value as fhir4.Quantity;
  if (typeof quantity?.value !== 'number') return { problem: 'it has no numeric value' };
  if (!spec.unit) return { value: quantity.value, unit: quantity.code ?? quantity.unit };
  const from =
    quantity.system === 'http://unitsofmeasure.org' && quantity.code
      ? quantity.code
      : (quantity.code ?? quantity.unit);
  if (!from) return { problem: `its value has no unit (expected ${spec.unit})` };
  const converted = convertUnit(quantity.value, from, spec.unit, spec.molarMass);
  if (converted === undefined) return { problem: `its unit ${from} cannot be converted to ${spec.unit}` };
  return { value: converted, unit: spec.unit };
}

function describeSource(source: InputSource): string {
  switch (source.from) {
    case 'observation':
      return `no Observation with code ${source.codes.join(' or ')}${source.lookback ? ` within ${source.lookback}` : ''}`;
    case 'age':
      return 'no birth date on the Patient';
    case 'patient':
      return 'not recorded on the Patient';
    case 'member':
      return `the report has no member Observation with code ${source.codes.join(' or ')}`;
    case 'condition':
    case 'medication':
    case 'plugin':
      return 'not found';
  }
}

/**
 * Gathers every feature the manifest declares from the patient's record: a complete, typed input,
 * or the list of what is missing or outside the model's validated range.
 */
export async function gatherInputs(
  manifest: PluginManifest,
  data: PatientData,
  now: Date,
): Promise<GatherResult> {
  const declared = manifest.inputs.filter((spec) => spec.source.from !== 'plugin');
  const extracted = await Promise.all(declared.map((spec) => extract(spec.source, data, now)));
  const features: Record<string, FeatureValue> = {};
  const reasons: string[] = [];

  declared.forEach((spec, i) => {
    const found = extracted[i];
    const { value, unit, display, problem } =
      found.raw.length > 0 ? toNumber(spec, found) : { problem: found.note ?? describeSource(spec.source) };
    if (value === undefined || !Number.isFinite(value)) {
      if (!spec.required && spec.default !== undefined) {
        features[spec.name] = {
          name: spec.name,
          value: spec.default,
          defaulted: true,
          display: 'not recorded',
        };
      } else {
        reasons.push(`${spec.name}: ${(found.raw.length === 0 && spec.ifMissing) || problem || 'missing'}`);
      }
      return;
    }
    const { min, max } = spec.valid ?? {};
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      reasons.push(
        `${spec.name}: ${round(value)}${unit ? ` ${unit}` : ''} is outside the validated range ${min ?? '−∞'}–${max ?? '∞'}`,
      );
    }
    features[spec.name] = {
      name: spec.name,
      value,
      ...(unit ? { unit } : {}),
      display: display ?? `${round(value)}${unit ? ` ${unit}` : ''}`,
      ...(found.source ? { source: found.source } : {}),
    };
  });

  if (reasons.length > 0) return { status: 'insufficient', reasons, features };
  const sources = uniqueSources(Object.values(features));
  const effective = sources
    .map((s) => s.effective)
    .filter((e): e is string => !!e)
    .sort()
    .at(-1);
  return { status: 'complete', features, sources, ...(effective ? { effective } : {}) };
}

function uniqueSources(features: FeatureValue[]): FeatureProvenance[] {
  const byReference = new Map<string, FeatureProvenance>();
  for (const f of features) if (f.source) byReference.set(f.source.reference, f.source);
  return [...byReference.values()];
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

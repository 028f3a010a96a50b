import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import { codingMatches, conceptMatches, conceptNamed } from './coding-match';
import { isDiplotype, normaliseGenotype } from './genotype';
import { gatherImage } from './image-input';
import { FeatureSpec, ImageSource, InputSource, PluginManifest } from './manifest';
import { PatientData } from './patient-data';
import { observationTime } from './patient-record';
import { convertUnit } from './units';

/** Where one feature's value came from, for the audit trail and the Observation's `derivedFrom`. */
export interface FeatureProvenance {
  /** Version-specific reference when the EHR gave a version. */
  reference: string;
  effective?: string;
}

export interface FeatureValue {
  name: string;
  /** What a clinician calls the input (the manifest's `label`). */
  label?: string;
  value: number;
  /**
   * False when nothing was recorded and the value stands for that absence (no diabetes Condition
   * on file taken as "no", a default): apart from a value recorded as "no".
   */
  recorded?: boolean;
  /** What the value means in the record's terms: a coded value's display, yes/no for a presence. */
  display?: string;
  unit?: string;
  /** Absent for defaults and for facts that are absences (no active diabetes Condition). */
  source?: FeatureProvenance;
  defaulted?: boolean;
  /**
   * Set when the model was not given the value as recorded (a default for a value never recorded,
   * the model's "unknown" or "other" category, a mixed category): the result's note says so.
   */
  caveat?: string;
  /**
   * An image input's whole tensor (row-major, the batch dimension left out), exactly as the model
   * gets it; `value` is then its mean grey level.
   */
  values?: number[];
}

export type GatherResult =
  | {
      status: 'complete';
      features: Record<string, FeatureValue>;
      sources: FeatureProvenance[];
      effective?: string;
    }
  | { status: 'insufficient'; reasons: string[]; features: Record<string, FeatureValue> };

export interface Extracted {
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

/** LOINC 84413-4 Genotype display name and 48018-6 Gene studied [ID], as the Genomics Reporting IG uses them. */
export const GENOTYPE_CODE = 'http://loinc.org|84413-4';
const GENE_STUDIED = 'http://loinc.org|48018-6';

/** True when a genotype Observation's gene studied is this HGNC gene (`HGNC:2623`, `2623` or `CYP2C9`). */
function studiesGene(observation: fhir4.Observation, hgnc: string, symbol: string): boolean {
  const id = hgnc.toUpperCase().replace(/^HGNC:/, '');
  return (observation.component ?? [])
    .filter((c) => conceptMatches(c.code, [GENE_STUDIED]))
    .some((c) => {
      const gene = c.valueCodeableConcept;
      return (
        (gene?.coding ?? []).some(
          (g) =>
            g.code?.toUpperCase().replace(/^HGNC:/, '') === id ||
            g.display?.trim().toUpperCase() === symbol.toUpperCase(),
        ) || gene?.text?.trim().toUpperCase() === symbol.toUpperCase()
      );
    });
}

/** The latest value of the first Observation that has one, or why none had. */
function latestValue(found: fhir4.Observation[], path: string | undefined, what: string): Extracted {
  for (const observation of found) {
    const raw = evaluate(observation, path ?? 'value');
    if (raw.length > 0) return { raw, source: provenanceOf(observation, observationTime(observation)) };
  }
  return found.length > 0
    ? {
        raw: [],
        note: `${found.length} Observation(s) with ${what} but none with a value at ${path ?? 'value'}`,
      }
    : { raw: [] };
}

export async function extract(source: InputSource, data: PatientData, now: Date): Promise<Extracted> {
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
      return latestValue(found, source.path, `code ${source.codes.join(' or ')}`);
    }
    case 'genotype': {
      const found = (await data.observations([GENOTYPE_CODE], since(now, source.lookback))).filter((o) =>
        studiesGene(o, source.hgnc, source.symbol),
      );
      return latestValue(found, undefined, `a ${source.symbol} genotype`);
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
    case 'image':
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
  return [...keys, object?.text?.trim(), ...codings.map((c) => c.display?.trim())].filter(
    (k): k is string => !!k,
  );
}

/** The words a clinician would use for a coded value. */
function displayOf(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  const object = value as fhir4.CodeableConcept & fhir4.Coding;
  const coding = object?.coding?.[0] ?? (object?.code ? object : undefined);
  return object?.text?.trim() || coding?.display || coding?.code || 'a value without code or text';
}

interface Lookup {
  /** Normalised key → number. */
  map: Map<string, number>;
  unknown: Set<string>;
  key: (raw: string) => string;
}

const lookups = new WeakMap<FeatureSpec, Lookup>();

/**
 * The feature's map with its keys in the form recorded values are compared in: genotypes
 * normalised (gene prefix, case, allele order), everything else without regard to case.
 */
function lookupOf(spec: FeatureSpec): Lookup {
  let lookup = lookups.get(spec);
  if (!lookup) {
    const genotype = spec.genotype;
    const key = (raw: string) =>
      genotype && !raw.includes('|') ? normaliseGenotype(raw, genotype) : raw.trim().toLowerCase();
    lookup = {
      key,
      map: new Map(Object.entries(spec.map ?? {}).map(([k, v]) => [key(k), v])),
      unknown: new Set((spec.unknown?.values ?? []).map(key)),
    };
    lookups.set(spec, lookup);
  }
  return lookup;
}

type Category =
  | { kind: 'mapped' | 'otherwise'; value: number; display: string }
  | { kind: 'unknown'; display: string }
  | { kind: 'problem'; display: string; problem: string };

/** One recorded value through the feature's map. */
function categoryOf(spec: FeatureSpec, recorded: unknown): Category {
  const lookup = lookupOf(spec);
  const display = displayOf(recorded);
  const keys = mapKeys(recorded).map(lookup.key);
  const matched = [...new Set(keys.flatMap((k) => (lookup.map.has(k) ? [lookup.map.get(k)!] : [])))];
  if (matched.length > 1)
    return { kind: 'problem', display, problem: `its codes and text disagree ("${display}")` };
  if (matched.length === 1) {
    // A genotype says how it was read, so a clinician sees the category the model was given.
    const read =
      spec.genotype && `${spec.genotype.gene} ${keys.find((k) => lookup.map.get(k) === matched[0])}`;
    const same = (a: string, b: string) =>
      a.replace(/\s/g, '').toUpperCase() === b.replace(/\s/g, '').toUpperCase();
    const shown = read && !same(read, display) ? `${display} (read as ${read})` : display;
    return { kind: 'mapped', value: matched[0], display: shown };
  }
  if (keys.some((k) => lookup.unknown.has(k))) return { kind: 'unknown', display };
  // "Otherwise" is for a genotype the model does not cover, never for text that is not a genotype.
  const otherwiseApplies = !spec.genotype || keys.some(isDiplotype);
  if (spec.otherwise !== undefined && otherwiseApplies)
    return { kind: 'otherwise', value: spec.otherwise, display };
  return { kind: 'problem', display, problem: `"${display}" is not a value the model knows` };
}

interface Converted {
  value?: number;
  unit?: string;
  display?: string;
  problem?: string;
  caveat?: string;
}

/** A categorical input: every recorded value through the map, then the manifest's rule for several. */
function fromMap(spec: FeatureSpec, raw: unknown[]): Converted {
  const recorded = spec.multiple === 'first' ? raw.slice(0, 1) : raw;
  const categories = recorded.map((r) => categoryOf(spec, r));
  const display = [...new Set(categories.map((c) => c.display))].join(' and ');
  const problem = categories.find((c) => c.kind === 'problem');
  if (problem?.kind === 'problem') return { problem: problem.problem };
  if (categories.some((c) => c.kind === 'unknown')) {
    if (spec.unknown?.value === undefined)
      return {
        problem: `recorded as "${display}", a result that is not known; the model needs a known value`,
      };
    return { value: spec.unknown.value, display, caveat: fill(spec.notes?.unknown, spec, display) };
  }
  const known = categories as Array<Extract<Category, { value: number }>>;
  const values = [...new Set(known.map((c) => c.value))];
  const rule = spec.multiple;
  if (values.length > 1 && typeof rule === 'object')
    return { value: rule.mixed, display, caveat: fill(spec.notes?.mixed, spec, display) };
  const value = rule === 'all' ? Math.min(...values) : Math.max(...values);
  const chosen = known.filter((c) => c.value === value);
  const caveat = chosen.every((c) => c.kind === 'otherwise')
    ? fill(spec.notes?.otherwise, spec, display)
    : undefined;
  return { value, display, ...(caveat ? { caveat } : {}) };
}

/** A note template with `{value}` (what was recorded) and `{label}` filled in. */
function fill(template: string | undefined, spec: FeatureSpec, display: string): string | undefined {
  return template?.replace(/\{value\}/g, display).replace(/\{label\}/g, spec.label ?? spec.name);
}

/** A quantity in the unit the model expects, or why it cannot be. */
export function quantityIn(value: unknown, unit: string | undefined, molarMass?: number): Converted {
  if (typeof value === 'number') return { value };
  if (typeof value === 'boolean') return { value: value ? 1 : 0 };
  const quantity = value as fhir4.Quantity;
  if (typeof quantity?.value !== 'number') return { problem: 'it has no numeric value' };
  if (!unit) return { value: quantity.value, unit: quantity.code ?? quantity.unit };
  const from =
    quantity.system === 'http://unitsofmeasure.org' && quantity.code
      ? quantity.code
      : (quantity.code ?? quantity.unit);
  if (!from) return { problem: `its value has no unit (expected ${unit})` };
  const converted = convertUnit(quantity.value, from, unit, molarMass);
  if (converted === undefined) return { problem: `its unit ${from} cannot be converted to ${unit}` };
  return { value: converted, unit };
}

/** Turns what was extracted into the model's number, or says why it cannot. */
function toNumber(spec: FeatureSpec, extracted: Extracted): Converted {
  if (extracted.number !== undefined) {
    const presence = spec.source.from === 'condition' || spec.source.from === 'medication';
    return {
      value: extracted.number,
      display: presence
        ? extracted.number
          ? 'yes'
          : 'none recorded (taken as no)'
        : String(extracted.number),
    };
  }
  if (spec.map) return fromMap(spec, extracted.raw);
  return quantityIn(extracted.raw[0], spec.unit, spec.molarMass);
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
    case 'genotype':
      return `no ${source.symbol} genotype (LOINC 84413-4 with gene studied ${source.hgnc})${source.lookback ? ` within ${source.lookback}` : ''}`;
    case 'condition':
    case 'medication':
    case 'plugin':
    case 'image':
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
  /** The event's focus, which image inputs are read from. */
  focus?: fhir4.Resource,
): Promise<GatherResult> {
  const declared = manifest.inputs.filter(
    (spec) => spec.source.from !== 'plugin' && spec.source.from !== 'image',
  );
  const images = manifest.inputs.filter(
    (spec): spec is FeatureSpec & { source: ImageSource } => spec.source.from === 'image',
  );
  const [extracted, imageFeatures] = await Promise.all([
    Promise.all(declared.map((spec) => extract(spec.source, data, now))),
    // An unusable image throws an ImageRefusal: the run is skipped with its reason.
    Promise.all(images.map((spec) => gatherImage(spec, data, focus))),
  ]);
  const features: Record<string, FeatureValue> = Object.fromEntries(imageFeatures.map((f) => [f.name, f]));
  const reasons: string[] = [];

  declared.forEach((spec, i) => {
    const found = extracted[i];
    const { value, unit, display, problem, caveat } =
      found.raw.length > 0 ? toNumber(spec, found) : { problem: found.note ?? describeSource(spec.source) };
    if (value === undefined || !Number.isFinite(value)) {
      // A recorded value the model cannot use is never replaced by the default: only a missing one.
      if (found.raw.length === 0 && !spec.required && spec.default !== undefined) {
        const note = fill(spec.notes?.default, spec, 'not recorded');
        features[spec.name] = {
          name: spec.name,
          ...(spec.label ? { label: spec.label } : {}),
          value: spec.default,
          defaulted: true,
          recorded: false,
          display: 'not recorded',
          ...(note ? { caveat: note } : {}),
        };
      } else {
        reasons.push(`${spec.name}: ${(found.raw.length === 0 && spec.ifMissing) || problem || 'missing'}`);
      }
      return;
    }
    const { min, max } = spec.valid ?? {};
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      reasons.push(
        `${spec.name}: ${round(value)}${unit ? ` ${unitDisplay(unit)}` : ''} is outside the validated range ${min ?? '−∞'}–${max ?? '∞'}`,
      );
    }
    features[spec.name] = {
      name: spec.name,
      ...(spec.label ? { label: spec.label } : {}),
      value,
      ...(found.source || (found.raw.length > 0 && found.number === undefined) ? {} : { recorded: false }),
      ...(unit ? { unit } : {}),
      display: display ?? `${round(value)}${unit ? ` ${unitDisplay(unit)}` : ''}`,
      ...(found.source ? { source: found.source } : {}),
      ...(caveat ? { caveat } : {}),
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

/** UCUM codes a clinician reads differently: `mm[Hg]` is mmHg, `a` is years. */
function unitDisplay(unit: string): string {
  return { 'mm[Hg]': 'mmHg', a: 'y', '[in_i]': 'in', '[lb_av]': 'lb' }[unit] ?? unit;
}

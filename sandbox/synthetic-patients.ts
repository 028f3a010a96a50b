/**
 * Synthetic patients for the demo, benchmarks and chaos tests: a seeded generator (the same seed
 * gives the same people), realistic values and units as labs report them (cholesterol in mg/dL or
 * mmol/L), and the untidiness of real charts: some data missing, some values outside what a model
 * was validated for. No real person.
 */

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** mulberry32: small, fast, and good enough to make test data reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Rng {
  (): number;
}

function normal(rng: Rng, mean: number, sd: number): number {
  const u = 1 - rng();
  const v = rng();
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
const round = (v: number, decimals: number) => Number(v.toFixed(decimals));

const GIVEN = {
  female: [
    'Amara',
    'Ingrid',
    'Lucía',
    'Mei',
    'Noor',
    'Olwen',
    'Priya',
    'Rosa',
    'Sigrid',
    'Thandiwe',
    'Yara',
    'Zofia',
  ],
  male: [
    'Arjun',
    'Bram',
    'Ciaran',
    'Dmitri',
    'Emeka',
    'Farid',
    'Hiro',
    'Joaquín',
    'Kofi',
    'Lars',
    'Mateo',
    'Tomasz',
  ],
};
const FAMILY = [
  'Abara',
  'Brennan',
  'Castellanos',
  'Dvořák',
  'Eklund',
  'Fitzgerald',
  'Haddad',
  'Iwasaki',
  'Jensen',
  'Kowalczyk',
  'Lindqvist',
  'Mbeki',
  'Novak',
  'Okafor',
  'Petrov',
  'Quispe',
  'Rahman',
  'Sato',
];

/** What the generator decided about a patient: handy for checking a demo's or a test's output. */
export interface PatientProfile {
  id: string;
  gender: 'female' | 'male';
  age: number;
  black: boolean;
  smoker: 'current' | 'former' | 'never' | 'unknown';
  diabetes: boolean;
  bpTreated: boolean;
  /** Total cholesterol in mg/dL (reported in `cholesterolUnit`). */
  totalCholesterol: number;
  cholesterolUnit: 'mg/dL' | 'mmol/L';
  /** Undefined: the chart has no HDL result. */
  hdl?: number;
  systolic: number;
  diastolic: number;
}

export interface SyntheticPatient {
  profile: PatientProfile;
  /** The chart before the stream starts: Patient, vitals, HDL, smoking status, conditions, medications. */
  chart: fhir4.Resource[];
}

/** Cholesterol: mg/dL ÷ 38.67 = mmol/L (molar mass 386.65 g/mol). */
const MG_DL_PER_MMOL_L = 38.67;

export function birthDateForAge(age: number, now: Date, rng: Rng): string {
  const date = new Date(Date.UTC(now.getUTCFullYear() - age, now.getUTCMonth(), now.getUTCDate()));
  date.setUTCDate(date.getUTCDate() - 1 - Math.floor(rng() * 360)); // birthday already passed this year
  return date.toISOString().slice(0, 10);
}

function daysAgo(now: Date, days: number): string {
  return new Date(now.getTime() - days * 86_400_000).toISOString();
}

export function generatePatients(
  count: number,
  seed = 1,
  now = new Date(),
  idPrefix = 'synth',
): SyntheticPatient[] {
  const rng = seededRandom(seed);
  return Array.from({ length: count }, (_, i) =>
    generatePatient(rng, `${idPrefix}-${String(i + 1).padStart(4, '0')}`, now),
  );
}

function generatePatient(rng: Rng, id: string, now: Date): SyntheticPatient {
  const gender = rng() < 0.5 ? 'female' : 'male';
  // One in ten is outside the PCE's validated 40–79 years, as in any clinic.
  const age = rng() < 0.1 ? pick(rng, [31, 34, 37, 82, 86]) : Math.round(clamp(normal(rng, 60, 10), 40, 79));
  const profile: PatientProfile = {
    id,
    gender,
    age,
    black: rng() < 0.2,
    smoker: (() => {
      const r = rng();
      return r < 0.17 ? 'current' : r < 0.4 ? 'former' : r < 0.96 ? 'never' : 'unknown';
    })(),
    diabetes: rng() < 0.12,
    bpTreated: rng() < 0.3,
    totalCholesterol:
      rng() < 0.05 ? round(normal(rng, 350, 15), 0) : round(clamp(normal(rng, 200, 35), 130, 315), 0),
    cholesterolUnit: rng() < 0.4 ? 'mmol/L' : 'mg/dL',
    hdl: rng() < 0.1 ? undefined : round(clamp(normal(rng, gender === 'female' ? 58 : 47, 12), 22, 98), 0),
    systolic: round(clamp(normal(rng, 130, 17), 92, 198), 0),
    diastolic: 0,
  };
  profile.diastolic = round(clamp(profile.systolic * 0.6 + normal(rng, 4, 5), 55, 115), 0);

  const patient: fhir4.Patient = {
    resourceType: 'Patient',
    id,
    identifier: [
      { system: 'urn:oid:2.16.840.1.113883.19.5.99999.1', value: `SYN${Math.floor(rng() * 1e8)}` },
    ],
    name: [{ family: pick(rng, FAMILY), given: [pick(rng, GIVEN[gender])] }],
    gender,
    birthDate: birthDateForAge(age, now, rng),
    ...(profile.black ? { extension: [usCoreRace('2054-5', 'Black or African American')] } : {}),
  };
  const chart: fhir4.Resource[] = [
    patient,
    bloodPressure(id, profile.systolic, profile.diastolic, daysAgo(now, 20 + Math.floor(rng() * 100))),
  ];
  if (profile.hdl !== undefined) {
    const mmol = rng() < 0.3;
    chart.push(
      labResult(
        id,
        '2085-9',
        'Cholesterol in HDL [Mass/volume] in Serum or Plasma',
        mmol ? round(profile.hdl / MG_DL_PER_MMOL_L, 2) : profile.hdl,
        mmol ? 'mmol/L' : 'mg/dL',
        daysAgo(now, 30 + Math.floor(rng() * 200)),
      ),
    );
  }
  if (profile.smoker !== 'unknown')
    chart.push(smokingStatus(id, profile.smoker, daysAgo(now, 60 + Math.floor(rng() * 300))));
  if (profile.diabetes) {
    chart.push({
      resourceType: 'Condition',
      clinicalStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
      },
      verificationStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
      },
      code: { coding: [{ system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2' }] },
      subject: { reference: `Patient/${id}` },
    } as fhir4.Condition);
  }
  if (profile.bpTreated) {
    const drug = pick(rng, [
      ['C09AA05', 'ramipril'],
      ['C08CA01', 'amlodipine'],
      ['C03AA03', 'hydrochlorothiazide'],
    ] as const);
    chart.push({
      resourceType: 'MedicationStatement',
      status: 'active',
      medicationCodeableConcept: {
        coding: [{ system: 'http://www.whocc.no/atc', code: drug[0], display: drug[1] }],
        text: drug[1],
      },
      subject: { reference: `Patient/${id}` },
    } as fhir4.MedicationStatement);
  }
  return { profile, chart };
}

export function labResult(
  patientId: string,
  code: string,
  display: string,
  value: number,
  unit: string,
  when: string,
): fhir4.Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: CATEGORY, code: 'laboratory', display: 'Laboratory' }] }],
    code: { coding: [{ system: LOINC, code, display }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: when,
    issued: when,
    valueQuantity: { value, unit, system: UCUM, code: unit },
  };
}

/** A new total cholesterol result for the patient, in the unit their lab reports. */
export function cholesterolResult(profile: PatientProfile, when: string): fhir4.Observation {
  const mmol = profile.cholesterolUnit === 'mmol/L';
  return labResult(
    profile.id,
    '2093-3',
    'Cholesterol [Mass/volume] in Serum or Plasma',
    mmol ? round(profile.totalCholesterol / MG_DL_PER_MMOL_L, 2) : profile.totalCholesterol,
    profile.cholesterolUnit,
    when,
  );
}

function bloodPressure(
  patientId: string,
  systolic: number,
  diastolic: number,
  when: string,
): fhir4.Observation {
  const component = (code: string, display: string, value: number): fhir4.ObservationComponent => ({
    code: { coding: [{ system: LOINC, code, display }] },
    valueQuantity: { value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' },
  });
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: CATEGORY, code: 'vital-signs', display: 'Vital Signs' }] }],
    code: {
      coding: [
        { system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' },
      ],
    },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: when,
    component: [
      component('8480-6', 'Systolic blood pressure', systolic),
      component('8462-4', 'Diastolic blood pressure', diastolic),
    ],
  };
}

const SMOKING = {
  current: ['449868002', 'Smokes tobacco daily'],
  former: ['8517006', 'Ex-smoker'],
  never: ['266919005', 'Never smoked tobacco'],
} as const;

function smokingStatus(patientId: string, status: keyof typeof SMOKING, when: string): fhir4.Observation {
  const [code, display] = SMOKING[status];
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: CATEGORY, code: 'social-history', display: 'Social History' }] }],
    code: { coding: [{ system: LOINC, code: '72166-2', display: 'Tobacco smoking status' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: when,
    valueCodeableConcept: { coding: [{ system: SNOMED, code, display }] },
  };
}

/** A transaction Bundle that stores one patient's chart, ids kept (PUT), references intact. */
export function chartTransaction(patient: SyntheticPatient): fhir4.Bundle {
  let n = 0;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [patient].flatMap((p) =>
      p.chart.map((resource) => {
        const id = resource.id ?? `${p.profile.id}-${++n}`;
        return {
          resource: { ...resource, id } as fhir4.FhirResource,
          request: { method: 'PUT' as const, url: `${resource.resourceType}/${id}` },
        };
      }),
    ),
  };
}

/** The US Core race extension with one OMB category, as EHRs send it. */
export function usCoreRace(code: string, display: string): fhir4.Extension {
  return {
    url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
    extension: [
      { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code, display } },
      { url: 'text', valueString: display },
    ],
  };
}

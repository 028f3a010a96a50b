import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { codingMatches } from './coding-match';
import { bandFor, interpretOutputs } from './findings';
import { ageInYears, gatherInputs, since } from './inputs';
import { FeatureSpec, manifestSchema } from './manifest';
import { ActiveMedication, PatientData } from './patient-data';

const manifest = manifestSchema.parse(
  JSON.parse(readFileSync(join(__dirname, '../../../plugins/prognosis-ascvd-pce/plugin.json'), 'utf8')),
);
const NOW = new Date('2026-06-15T12:00:00Z');

function observation(
  id: string,
  code: string,
  value: Partial<fhir4.Observation>,
  effective = '2026-05-01T09:00:00Z',
): fhir4.Observation {
  return {
    resourceType: 'Observation',
    id,
    meta: { versionId: '3' },
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: 'Patient/p' },
    effectiveDateTime: effective,
    ...value,
  };
}

const mgdl = (value: number): Partial<fhir4.Observation> => ({
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});

/** An in-memory patient record: the same questions the EHR answers, from arrays. */
function record(resources: {
  patient?: fhir4.Patient;
  observations?: fhir4.Observation[];
  conditions?: fhir4.Condition[];
  medications?: ActiveMedication[];
}): PatientData {
  return {
    patient: async () => resources.patient,
    observations: async (codes, from) =>
      (resources.observations ?? [])
        .filter((o) => o.code.coding?.some((c) => codingMatches(c, codes)))
        .filter((o) => !from || Date.parse(o.effectiveDateTime!) >= from.getTime())
        .sort((a, b) => Date.parse(b.effectiveDateTime!) - Date.parse(a.effectiveDateTime!)),
    activeConditions: async () => resources.conditions ?? [],
    conditions: async () => resources.conditions ?? [],
    activeMedications: async () => resources.medications ?? [],
    members: async () => [],
  };
}

const woman: fhir4.Patient = { resourceType: 'Patient', id: 'p', gender: 'female', birthDate: '1971-01-20' };
const smoking = observation('smk', '72166-2', {
  valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '266919005' }] },
});
const bpPanel = observation('bp', '85354-9', {
  component: [
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
      valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    },
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] },
      valueQuantity: { value: 80, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    },
  ],
});

describe('gatherInputs with the PCE manifest', () => {
  it('collects every feature with its unit and version-specific source', async () => {
    const result = await gatherInputs(
      manifest,
      record({
        patient: woman,
        observations: [
          observation('tc', '2093-3', mgdl(213)),
          observation('hdl', '2085-9', mgdl(50)),
          bpPanel,
          smoking,
        ],
      }),
      NOW,
    );
    expect(result.status).toBe('complete');
    if (result.status !== 'complete') return;
    const values = Object.fromEntries(Object.values(result.features).map((f) => [f.name, f.value]));
    expect(values).toEqual({
      age: 55,
      totalCholesterol: 213,
      hdlCholesterol: 50,
      systolicBp: 120,
      bpTreated: 0,
      currentSmoker: 0,
      diabetes: 0,
      female: 1,
      africanAmerican: 0,
    });
    expect(result.features.systolicBp.source).toEqual({
      reference: 'Observation/bp/_history/3',
      effective: '2026-05-01T09:00:00Z',
    });
    expect(result.features.africanAmerican.defaulted).toBe(true);
    expect(result.sources.map((s) => s.reference)).toEqual(
      expect.arrayContaining([
        'Observation/tc/_history/3',
        'Observation/hdl/_history/3',
        'Observation/bp/_history/3',
        'Observation/smk/_history/3',
      ]),
    );
  });

  it('converts mmol/L cholesterol to mg/dL with the molar mass', async () => {
    const mmol = (value: number): Partial<fhir4.Observation> => ({
      valueQuantity: { value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    });
    const result = await gatherInputs(
      manifest,
      record({
        patient: woman,
        observations: [
          observation('tc', '2093-3', mmol(5.5)),
          observation('hdl', '2085-9', mmol(1.3)),
          bpPanel,
          smoking,
        ],
      }),
      NOW,
    );
    expect(result.features.totalCholesterol.value).toBeCloseTo(5.5 * 38.665, 6);
    expect(result.features.totalCholesterol.unit).toBe('mg/dL');
  });

  it('maps coded answers, conditions, medications by code or by name, and race', async () => {
    const result = await gatherInputs(
      manifest,
      record({
        patient: {
          ...woman,
          gender: 'male',
          extension: [
            {
              url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
              extension: [
                {
                  url: 'ombCategory',
                  valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2054-5' },
                },
              ],
            },
          ],
        },
        observations: [
          observation('tc', '2093-3', mgdl(213)),
          observation('hdl', '2085-9', mgdl(50)),
          bpPanel,
          observation('smk', '72166-2', {
            valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '449868002' }] },
          }),
        ],
        conditions: [
          {
            resourceType: 'Condition',
            id: 'dm',
            subject: { reference: 'Patient/p' },
            code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9' }] },
          },
        ],
        medications: [
          {
            resource: {
              resourceType: 'MedicationRequest',
              id: 'rx',
              status: 'active',
              intent: 'order',
              subject: { reference: 'Patient/p' },
            },
            codings: [
              {
                system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
                code: '314076',
                display: 'lisinopril 10 MG Oral Tablet',
              },
            ],
          },
        ],
      }),
      NOW,
    );
    const values = Object.fromEntries(Object.values(result.features).map((f) => [f.name, f.value]));
    expect(values).toMatchObject({
      female: 0,
      africanAmerican: 1,
      currentSmoker: 1,
      diabetes: 1,
      bpTreated: 1,
    });
    expect(result.features.bpTreated.source?.reference).toBe('MedicationRequest/rx');
  });

  it('names every missing input and every value outside the validated range', async () => {
    const result = await gatherInputs(
      manifest,
      record({
        patient: { ...woman, birthDate: '1940-01-01' },
        observations: [observation('tc', '2093-3', mgdl(400)), bpPanel, smoking],
      }),
      NOW,
    );
    expect(result.status).toBe('insufficient');
    if (result.status !== 'insufficient') return;
    expect(result.reasons).toEqual([
      'age: 86 is outside the validated range 40–79',
      'totalCholesterol: 400 mg/dL is outside the validated range 130–320',
      'hdlCholesterol: no Observation with code http://loinc.org|2085-9 or http://loinc.org|14646-4 within P2Y',
    ]);
  });

  it('ignores values older than the look-back window', async () => {
    const old = observation('hdl', '2085-9', mgdl(50), '2023-01-01T00:00:00Z');
    const result = await gatherInputs(
      manifest,
      record({
        patient: woman,
        observations: [observation('tc', '2093-3', mgdl(213)), old, bpPanel, smoking],
      }),
      NOW,
    );
    expect(result.status).toBe('insufficient');
  });

  it('refuses a sex the equations do not cover, and a unit that cannot be converted', async () => {
    const result = await gatherInputs(
      manifest,
      record({
        patient: { ...woman, gender: 'unknown' },
        observations: [
          observation('tc', '2093-3', {
            valueQuantity: { value: 5, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
          }),
          observation('hdl', '2085-9', mgdl(50)),
          bpPanel,
          smoking,
        ],
      }),
      NOW,
    );
    expect(result.status === 'insufficient' && result.reasons).toEqual([
      'totalCholesterol: its unit mm[Hg] cannot be converted to mg/dL',
      'female: "unknown" is not a value the model knows',
    ]);
  });
});

describe('several recorded values of one input', () => {
  const races = (...codes: string[]): fhir4.Patient => ({
    ...woman,
    extension: [
      {
        url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
        extension: codes.map((code) => ({
          url: 'ombCategory',
          valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code },
        })),
      },
    ],
  });
  const withRule = (multiple: FeatureSpec['multiple']) => ({
    ...manifest,
    inputs: manifest.inputs.map((f) => (f.name === 'africanAmerican' ? { ...f, multiple } : f)),
  });
  const raceFeature = async (multiple: FeatureSpec['multiple'], ...codes: string[]) =>
    (await gatherInputs(withRule(multiple), record({ patient: races(...codes) }), NOW)).features
      .africanAmerican;

  it('applies the declared rule: first, any, all or a mixed category', async () => {
    expect((await raceFeature('first', '2106-3', '2054-5')).value).toBe(0);
    expect((await raceFeature('any', '2106-3', '2054-5')).value).toBe(1);
    expect((await raceFeature('all', '2106-3', '2054-5')).value).toBe(0);
    expect((await raceFeature('all', '2054-5')).value).toBe(1);
    expect(await raceFeature({ mixed: 7 }, '2106-3', '2054-5')).toMatchObject({
      value: 7,
      display: '2106-3 and 2054-5',
    });
  });

  it('says in a caveat when a value stood for something other than what was recorded', async () => {
    expect((await raceFeature('any', '2028-9')).caveat).toMatch(
      /^Race recorded as 2028-9: the white equations/,
    );
    expect((await raceFeature('any', '2054-5')).caveat).toBeUndefined();
    const none = (await gatherInputs(manifest, record({ patient: woman }), NOW)).features.africanAmerican;
    expect(none).toMatchObject({
      value: 0,
      recorded: false,
      caveat: 'Race not recorded: the white equations were used.',
    });
  });
});

describe('dates', () => {
  it('computes whole years, before and after the birthday', () => {
    expect(ageInYears('1971-06-15', NOW)).toBe(55);
    expect(ageInYears('1971-06-16', NOW)).toBe(54);
    expect(ageInYears('1971', NOW)).toBe(55);
  });

  it('subtracts ISO durations', () => {
    expect(since(NOW, 'P2Y')?.toISOString()).toBe('2024-06-15T12:00:00.000Z');
    expect(since(NOW, 'P6M')?.toISOString()).toBe('2025-12-15T12:00:00.000Z');
    expect(since(NOW, undefined)).toBeUndefined();
  });
});

describe('findings', () => {
  const [output] = manifest.outputs;

  it('scales, rounds and bands the model output', () => {
    const [finding] = interpretOutputs(manifest, { risk: 0.07549 });
    expect(finding.value).toBe(7.5);
    expect(finding.band?.text).toMatch(/^Intermediate/);
  });

  it('puts a band edge in the upper band', () => {
    expect(bandFor(output, 4.99)?.text).toMatch(/^Low/);
    expect(bandFor(output, 5)?.text).toMatch(/^Borderline/);
    expect(bandFor(output, 20)?.text).toMatch(/^High/);
  });

  it('reports a probability that rounds to 0 or 100 % at its bound, with a comparator', () => {
    expect(interpretOutputs(manifest, { risk: 0.99999 })[0]).toMatchObject({ value: 99.9, comparator: '>' });
    expect(interpretOutputs(manifest, { risk: 0.00001 })[0]).toMatchObject({ value: 0.1, comparator: '<' });
    expect(interpretOutputs(manifest, { risk: 0.999 })[0].comparator).toBeUndefined();
  });

  it('refuses a missing or non-finite output', () => {
    expect(() => interpretOutputs(manifest, {})).toThrow(/risk is missing/);
    expect(() => interpretOutputs(manifest, { risk: Number.NaN })).toThrow(/not a finite number/);
  });
});

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '@aegle/config';
import { FhirKitEhrClient } from '@aegle/fhir';
import {
  BundlePatientData,
  excludedBecause,
  GENOTYPE_CODE,
  gatherInputs,
  PatientData,
  PluginManifest,
  readManifest,
  since,
} from '@aegle/plugin-sdk/engine';
import { EhrPatientData } from '@aegle/runs';
import { startFhirServer, TestFhirServer } from './support/fhir-server';

const PLUGINS = join(__dirname, '../plugins');
const NOW = new Date('2026-06-01T12:00:00Z');

/** Each plugin's golden case the shared record starts from, and the focus its runs are about. */
const CASES: Record<string, { golden: string; patient: string; focus: string }> = {
  'prognosis-ascvd-pce': { golden: 'complete-patient.json', patient: 'golden-1', focus: 'Observation/tc-1' },
  'treatment-warfarin-iwpc': {
    golden: 'values-in-other-units.json',
    patient: 'w',
    focus: 'Observation/cyp2c9',
  },
  'diagnosis-breast-fna-wdbc': { golden: 'benign-case.json', patient: 'f', focus: 'DiagnosticReport/fna' },
  'diagnosis-pneumonia-cxr': { golden: '', patient: 'child', focus: 'DocumentReference/scan-png' },
};

const loinc = (code: string) => ({ coding: [{ system: 'http://loinc.org', code }] });
const mgdl = (value: number) => ({
  value,
  unit: 'mg/dL',
  system: 'http://unitsofmeasure.org',
  code: 'mg/dL',
});
const observation = (
  id: string,
  code: string,
  fields: Partial<fhir4.Observation>,
  subject: string | null = 'golden-1',
): fhir4.Observation => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: loinc(code),
  ...(subject ? { subject: { reference: `Patient/${subject}` } } : {}),
  ...fields,
});

/** A feature of a fine-needle aspirate, as a report's member Observation. */
const fnaMember = (
  id: string,
  feature: string,
  subject: string | null,
  fields: Partial<fhir4.Observation> = {},
): fhir4.Observation =>
  observation(
    id,
    feature,
    {
      code: { coding: [{ system: 'https://fhir.aegle.dev/CodeSystem/wdbc-fna-features', code: feature }] },
      valueQuantity: { value: 99 },
      ...fields,
    },
    subject,
  );

/**
 * What the record holds besides the golden cases: the resources the two readers must judge alike.
 * Entered in error, newer preliminary, another patient's, subjectless, issued without an effective
 * time, a resolved and a refuted Condition, stopped and referenced medications, unit variants.
 */
async function trickyResources(): Promise<fhir4.FhirResource[]> {
  const png = await sharp(Buffer.from(Array.from({ length: 32 * 32 }, (_, i) => (i * 7) % 256)), {
    raw: { width: 32, height: 32, channels: 1 },
  })
    .png()
    .toBuffer();
  const condition = (
    id: string,
    code: string,
    clinical: string,
    verification = 'confirmed',
    subject = 'golden-1',
  ): fhir4.Condition => ({
    resourceType: 'Condition',
    id,
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: clinical }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: verification }],
    },
    code: { coding: [{ system: 'http://snomed.info/sct', code, display: `SNOMED ${code}` }] },
    subject: { reference: `Patient/${subject}` },
  });
  return [
    { resourceType: 'Patient', id: 'other', gender: 'male', birthDate: '1950-01-01' },
    // Total cholesterol: the final one, a newer one entered in error, a newer preliminary one (in
    // mmol/L), another patient's, and one with no subject at all, newest of all.
    observation('tc-error', '2093-3', {
      status: 'entered-in-error',
      effectiveDateTime: '2026-05-20T08:00:00Z',
      valueQuantity: mgdl(400),
    }),
    observation('tc-prelim', '2093-3', {
      status: 'preliminary',
      effectiveDateTime: '2026-05-25T08:00:00Z',
      valueQuantity: { value: 5.2, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    }),
    observation(
      'tc-other',
      '2093-3',
      { effectiveDateTime: '2026-05-28T08:00:00Z', valueQuantity: mgdl(310) },
      'other',
    ),
    observation(
      'tc-nosubject',
      '2093-3',
      { effectiveDateTime: '2026-05-30T08:00:00Z', valueQuantity: mgdl(150) },
      null,
    ),
    // HDL issued in the window but with no effective time, and a cancelled one.
    observation('hdl-issued', '2085-9', { issued: '2026-05-29T08:00:00Z', valueQuantity: mgdl(70) }),
    observation('hdl-cancelled', '2085-9', {
      status: 'cancelled',
      effectiveDateTime: '2026-05-29T08:00:00Z',
      valueQuantity: mgdl(20),
    }),
    // LDL (an exclusion), measured over a period, with its unit only as text.
    observation('ldl-period', '13457-7', {
      effectivePeriod: { start: '2026-04-01T08:00:00Z', end: '2026-04-01T09:00:00Z' },
      valueQuantity: { value: 120, unit: 'mg/dL' },
    }),
    // A resolved myocardial infarction (a history of one), a refuted diabetes, another patient's diabetes.
    condition('mi-resolved', '22298006', 'resolved'),
    condition('diabetes-refuted', '44054006', 'active', 'refuted'),
    condition('diabetes-other', '44054006', 'active', 'confirmed', 'other'),
    // Medications: an active request naming a Medication resource, a stopped statement, another patient's.
    {
      resourceType: 'Medication',
      id: 'lisinopril',
      code: {
        coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '29046' }],
        text: 'Lisinopril 10 mg',
      },
    },
    {
      resourceType: 'MedicationRequest',
      id: 'lisinopril-rx',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/golden-1' },
      medicationReference: { reference: 'Medication/lisinopril' },
    },
    {
      resourceType: 'MedicationStatement',
      id: 'amlodipine-stopped',
      status: 'stopped',
      subject: { reference: 'Patient/golden-1' },
      medicationCodeableConcept: { text: 'amlodipine 5 mg' },
    },
    {
      resourceType: 'MedicationStatement',
      id: 'carbamazepine-contained',
      status: 'active',
      subject: { reference: 'Patient/w' },
      contained: [{ resourceType: 'Medication', id: 'm', code: { text: 'Carbamazepine 200 mg' } }],
      medicationReference: { reference: '#m' },
    },
    {
      resourceType: 'MedicationRequest',
      id: 'rifampin-other',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/other' },
      medicationCodeableConcept: { text: 'rifampin' },
    },
    // Warfarin: a newer weight entered in error, a newer genotype entered in error, a resolved pregnancy.
    observation(
      'weight-error',
      '29463-7',
      {
        status: 'entered-in-error',
        effectiveDateTime: '2026-05-30T09:00:00Z',
        valueQuantity: { value: 12, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
      },
      'w',
    ),
    observation(
      'cyp2c9-error',
      GENOTYPE_CODE.split('|')[1],
      {
        status: 'entered-in-error',
        effectiveDateTime: '2026-05-30T09:00:00Z',
        valueCodeableConcept: { text: 'CYP2C9 *3/*3' },
        component: [
          {
            code: loinc('48018-6'),
            valueCodeableConcept: {
              coding: [{ system: 'http://www.genenames.org/geneId', code: 'HGNC:2623', display: 'CYP2C9' }],
            },
          },
        ],
      },
      'w',
    ),
    condition('pregnancy-resolved', '77386006', 'resolved', 'confirmed', 'w'),
    // An FNA report's extra members: one entered in error listed first, one of another patient's, one
    // without subject.
    fnaMember('radius-error', 'radius-mean', 'f', { status: 'entered-in-error' }),
    fnaMember('texture-other', 'texture-mean', 'other'),
    fnaMember('area-nosubject', 'area-mean', null),
    // A chest X-ray as a PNG Binary that a DocumentReference points at.
    { resourceType: 'Patient', id: 'child', birthDate: '2023-02-11' },
    { resourceType: 'Binary', id: 'xray-png', contentType: 'image/png', data: png.toString('base64') },
    {
      resourceType: 'DocumentReference',
      id: 'scan-png',
      status: 'current',
      type: { text: 'Chest X-ray' },
      subject: { reference: 'Patient/child' },
      date: '2026-05-30T09:12:00Z',
      content: [{ attachment: { contentType: 'image/png', url: 'Binary/xray-png' } }],
    } as fhir4.DocumentReference,
  ];
}

/** The golden cases' records and the tricky resources, as one batch that keeps every id. */
async function record(): Promise<fhir4.Bundle> {
  const resources: fhir4.FhirResource[] = [];
  for (const [plugin, { golden }] of Object.entries(CASES)) {
    if (!golden) continue;
    const { bundle } = JSON.parse(readFileSync(join(PLUGINS, plugin, 'golden', golden), 'utf8')) as {
      bundle: fhir4.Bundle;
    };
    resources.push(...(bundle.entry ?? []).map((e) => e.resource!));
  }
  resources.push(...(await trickyResources()));
  const report = resources.find((r) => r.resourceType === 'DiagnosticReport') as fhir4.DiagnosticReport;
  // Listed first, so that a reader that kept them would take their values.
  report.result = [
    { reference: 'Observation/radius-error' },
    { reference: 'Observation/texture-other' },
    { reference: 'Observation/area-nosubject' },
    ...(report.result ?? []),
  ];
  return {
    resourceType: 'Bundle',
    type: 'batch',
    entry: resources.map((resource) => {
      const { meta: _meta, ...rest } = resource;
      return { resource: rest, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } };
    }),
  } as fhir4.Bundle;
}

/** Every search a manifest's inputs and exclusions make, as `codes` and the start of their window. */
function observationReads(manifest: PluginManifest): Array<{ codes: string[]; from?: Date }> {
  const reads = manifest.inputs.flatMap(({ source }) =>
    source.from === 'observation'
      ? [{ codes: source.codes, from: since(NOW, source.lookback) }]
      : source.from === 'genotype'
        ? [{ codes: [GENOTYPE_CODE], from: since(NOW, source.lookback) }]
        : [],
  );
  for (const exclusion of manifest.exclusions)
    if (exclusion.observation)
      reads.push({ codes: exclusion.observation.codes, from: since(NOW, exclusion.observation.lookback) });
  return reads;
}

const ids = (resources: fhir4.Resource[]) => resources.map((r) => `${r.resourceType}/${r.id}`);

/** What a plugin would be given from the record: every read its manifest makes, and the result. */
async function patientRecord(manifest: PluginManifest, data: PatientData, focus: fhir4.Resource) {
  const scope = manifest.dataScope.resourceTypes;
  const observations = await Promise.all(
    observationReads(manifest).map(async ({ codes, from }) => ids(await data.observations(codes, from))),
  );
  return {
    patient: (await data.patient())?.id,
    observations,
    conditions: scope.includes('Condition') ? ids(await data.conditions()) : [],
    activeConditions: scope.includes('Condition') ? ids(await data.activeConditions()) : [],
    medications: scope.includes('MedicationRequest')
      ? (await data.activeMedications()).map(({ resource, codings, text }) => ({
          resource: `${resource.resourceType}/${resource.id}`,
          codings,
          text,
        }))
      : [],
    members: ids(await data.members()),
    excluded: await excludedBecause(manifest, data, NOW),
    inputs: await gatherInputs(manifest, data, NOW, focus),
  };
}

/**
 * The one rule set for a patient's record: the engine reading it from the EHR over FHIR and the
 * offline harness reading it from a Bundle give every plugin exactly the same data and inputs.
 */
describe('patient record contract: the EHR and a Bundle of the same record read alike', () => {
  let ehr: TestFhirServer;
  let bundle: fhir4.Bundle;

  beforeAll(async () => {
    ehr = await startFhirServer();
    const stored = await ehr.seed((await record()) as never);
    // The harness reads the record exactly as the server stored it (ids, versions, meta).
    bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: stored.map((resource) => ({ resource: resource as fhir4.FhirResource })),
    };
  });
  afterAll(() => ehr?.close());

  const plugins = readdirSync(PLUGINS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);

  it('has a case for every plugin in plugins/', () => {
    expect(Object.keys(CASES).sort()).toEqual([...plugins].sort());
  });

  it.each(plugins)('%s: the same patient data and inputs from both', async (plugin) => {
    const manifest = await readManifest(join(PLUGINS, plugin));
    const { patient, focus: focusRef } = CASES[plugin];
    const focus = bundle
      .entry!.map((e) => e.resource!)
      .find((r) => `${r.resourceType}/${r.id}` === focusRef)!;
    const source = loadConfig(
      {},
      {
        sources: [
          { id: 'contract-ehr', fhirBaseUrl: ehr.baseUrl, inbound: { bearerToken: 'contract-token' } },
        ],
      },
    ).sources[0];

    const engine = new EhrPatientData(new FhirKitEhrClient(source), patient, focus, source);
    await engine.prefetch(manifest, NOW); // as the run processor reads them
    const harness = new BundlePatientData(bundle, patient, focus);

    const fromEhr = await patientRecord(manifest, engine, focus);
    const fromBundle = await patientRecord(manifest, harness, focus);
    expect(fromBundle).toEqual(fromEhr);
    // The record holds what each plugin needs: the comparison is not of two empty answers.
    expect(fromEhr.patient).toBe(patient);
    expect(Object.keys(fromEhr.inputs.features).length).toBeGreaterThan(0);
  });
});

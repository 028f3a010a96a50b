import { buildWdbcModel } from '../plugins/diagnosis-breast-fna-wdbc/model/build-model';
import { FEATURE_CODES, WDBC_CODESYSTEM_URL } from '../plugins/diagnosis-breast-fna-wdbc/model/features';
import { validateR4 } from './support/fhir-validation';
import { Loop, startLoop } from './support/loop';
import { daysAgo, patient } from './fixtures/patients';

const RESULT_CODE = 'breast-fna-malignancy-probability-wdbc';

/** One held-out case as an EHR would hold it: 30 Observations, members of a cytology report. */
function cytologyReport(
  reportId: string,
  patientId: string,
  values: readonly number[],
  options: { omit?: string } = {},
): fhir4.Resource[] {
  const members: fhir4.Observation[] = FEATURE_CODES.filter((code) => code !== options.omit).map((code) => ({
    resourceType: 'Observation',
    id: `${reportId}-${code}`,
    status: 'final',
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' },
        ],
      },
    ],
    code: { coding: [{ system: WDBC_CODESYSTEM_URL, code }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: daysAgo(2),
    valueQuantity: { value: values[FEATURE_CODES.indexOf(code)] },
  }));
  const report: fhir4.DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: reportId,
    status: 'final',
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'CP', display: 'Cytopathology' },
        ],
      },
    ],
    code: { text: 'Breast FNA cytology, nuclear morphometry' },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: daysAgo(2),
    result: members.map((m) => ({ reference: `Observation/${m.id}` })),
  };
  return [...members, report];
}

describe('diagnosis-breast-fna-wdbc end to end', () => {
  const build = buildWdbcModel();
  let loop: Loop;

  beforeAll(async () => {
    loop = await startLoop();
  });

  afterAll(() => loop?.close());

  const results = (patientId: string) =>
    loop.observations(patientId, `https://fhir.aegle.dev/CodeSystem/aegle-results|${RESULT_CODE}`);

  it.each([
    ['a malignant', 1],
    ['a benign', 0],
  ])('writes P(malignant) for %s held-out case, equal to the trained model', async (_label, label) => {
    const position = build.split.heldOut.y.indexOf(label);
    const values = build.split.heldOut.features[position];
    const patientId = `fna-${label}`;
    await loop.ehr.seed([patient(patientId, { gender: 'female', age: 52 })]);
    const seeded = await loop.ehr.seed(cytologyReport(`report-${label}`, patientId, values));
    expect((await loop.notify(seeded[seeded.length - 1])).status).toBe(200);
    await loop.aegle.waitForIdle();

    const [result, ...others] = await results(patientId);
    expect(others).toHaveLength(0);
    // A probability is never written as a certainty: one that rounds to 0 or 100 % is its bound.
    const percent = Math.round(1000 * build.heldOutProbabilities[position]) / 10;
    const expected =
      percent >= 100
        ? { value: 99.9, comparator: '>' }
        : percent <= 0
          ? { value: 0.1, comparator: '<' }
          : { value: percent };
    expect(result.valueQuantity).toMatchObject(expected);
    if (!expected.comparator) expect(result.valueQuantity!.comparator).toBeUndefined();
    expect(result.interpretation?.[0].text).toMatch(
      label === 1 ? /Suspicious/ : /Low probability|Indeterminate/,
    );
    expect(result.derivedFrom).toHaveLength(30);
    validateR4(result as never);
  });

  it('skips a report with a feature missing, naming it', async () => {
    await loop.ehr.seed([patient('fna-partial', { gender: 'female', age: 49 })]);
    const seeded = await loop.ehr.seed(
      cytologyReport('report-partial', 'fna-partial', build.split.heldOut.features[0], {
        omit: 'concavity-worst',
      }),
    );
    expect((await loop.notify(seeded[seeded.length - 1])).status).toBe(200);
    await loop.aegle.waitForIdle();
    expect(await results('fna-partial')).toHaveLength(0);
    const [run] = await loop.aegle.db.query(
      `SELECT outcome, reason FROM plugin_run WHERE patient_ref = 'Patient/fna-partial'`,
    );
    expect(run).toEqual({ outcome: 'skipped', reason: expect.stringMatching(/concavityWorst/) });
  });
});

import { iwpcDailyDose, iwpcWeeklyDose } from '../plugins/treatment-warfarin-iwpc/model/iwpc-reference';
import { validateR4 } from './support/fhir-validation';
import { Loop, startLoop } from './support/loop';
import { activeMedication, genotype, lab, patient, whitePatient } from './fixtures/patients';

const RESULTS = 'https://fhir.aegle.dev/CodeSystem/aegle-results';

describe('treatment-warfarin-iwpc end to end', () => {
  let loop: Loop;

  beforeAll(async () => {
    loop = await startLoop();
  });

  afterAll(() => loop?.close());

  const doses = (patientId: string) =>
    loop.observations(
      patientId,
      `${RESULTS}|warfarin-weekly-dose-iwpc`,
      `${RESULTS}|warfarin-daily-dose-iwpc`,
    );

  it('writes the weekly and daily dose when a genotype result arrives, naming the genotype terms', async () => {
    const [, , , , cyp2c9] = await loop.ehr.seed([
      whitePatient(patient('w-1', { gender: 'male', age: 67 })),
      lab('w-1-height', 'w-1', '8302-2', 'Body height', 70, '[in_i]'),
      lab('w-1-weight', 'w-1', '29463-7', 'Body weight', 82, 'kg'),
      genotype('w-1-vkorc1', 'w-1', 'VKORC1', { text: 'rs9923231 C/T' }),
      genotype('w-1-cyp2c9', 'w-1', 'CYP2C9', {
        text: 'CYP2C9 *1/*3',
        coding: { system: 'http://www.pharmvar.org', code: '*1/*3', display: '*1/*3' },
      }),
      activeMedication('w-1-amio', 'w-1', '703', 'amiodarone 200 MG Oral Tablet'),
    ]);
    expect((await loop.notify(cyp2c9)).status).toBe(200);
    await loop.aegle.waitForIdle();

    const written = await doses('w-1');
    expect(written).toHaveLength(2);
    // 70 in = 177.8 cm; VKORC1 C/T on rs9923231 = A/G (1); *1/*3 (2); White (0); amiodarone (1).
    const input = {
      ageYears: 67,
      heightCm: 177.8,
      weightKg: 82,
      vkorc1: 1,
      cyp2c9: 2,
      race: 0,
      enzymeInducer: 0,
      amiodarone: 1,
    };
    const weekly = written.find((o) => o.code.coding?.[0].code === 'warfarin-weekly-dose-iwpc')!;
    const daily = written.find((o) => o.code.coding?.[0].code === 'warfarin-daily-dose-iwpc')!;
    expect(weekly.valueQuantity).toMatchObject({
      unit: 'mg/week',
      code: 'mg/wk',
      system: 'http://unitsofmeasure.org',
    });
    expect(weekly.valueQuantity!.value).toBeCloseTo(iwpcWeeklyDose(input), 1);
    expect(daily.valueQuantity!.value).toBeCloseTo(iwpcDailyDose(input), 2);
    const notes = (weekly.note ?? []).map((n) => n.text).join('\n');
    expect(notes).toMatch(/rs9923231 C\/T \(read as VKORC1 A\/G\)/);
    expect(notes).toMatch(/CYP2C9 \*1\/\*3/);
    expect(notes).toMatch(/never an order/);
    for (const observation of written) validateR4(observation as never);
  });

  it('says the pharmacogenetic algorithm cannot run when a genotype is missing, and writes nothing', async () => {
    const [, , , cyp2c9] = await loop.ehr.seed([
      patient('w-2', { gender: 'female', age: 58 }),
      lab('w-2-height', 'w-2', '8302-2', 'Body height', 165, 'cm'),
      lab('w-2-weight', 'w-2', '29463-7', 'Body weight', 70, 'kg'),
      genotype('w-2-cyp2c9', 'w-2', 'CYP2C9', {
        text: 'CYP2C9 *1/*1',
        coding: { system: 'http://www.pharmvar.org', code: '*1/*1' },
      }),
    ]);
    expect((await loop.notify(cyp2c9)).status).toBe(200);
    await loop.aegle.waitForIdle();
    expect(await doses('w-2')).toHaveLength(0);
    const [run] = await loop.aegle.db.query(
      `SELECT outcome, reason FROM plugin_run WHERE patient_ref = 'Patient/w-2' AND plugin_id = 'treatment-warfarin-iwpc'`,
    );
    expect(run.outcome).toBe('skipped');
    expect(run.reason).toMatch(
      /no VKORC1 genotype \(rs9923231\) on file: the IWPC pharmacogenetic algorithm cannot run/,
    );
  });

  it('gives no dose for a new warfarin order when the CYP2C9 genotype has an allele the model does not represent', async () => {
    const [, , , , , order] = await loop.ehr.seed([
      patient('w-3', { gender: 'female', age: 45, black: true }),
      lab('w-3-height', 'w-3', '8302-2', 'Body height', 160, 'cm'),
      lab('w-3-weight', 'w-3', '29463-7', 'Body weight', 150, '[lb_av]'),
      genotype('w-3-vkorc1', 'w-3', 'VKORC1', {
        text: 'G/G',
        coding: { system: 'http://www.pharmvar.org', code: 'G/G' },
      }),
      genotype('w-3-cyp2c9', 'w-3', 'CYP2C9', {
        text: 'CYP2C9 *1/*8',
        coding: { system: 'http://www.pharmvar.org', code: '*1/*8' },
      }),
      {
        resourceType: 'MedicationRequest',
        id: 'w-3-order',
        status: 'active',
        intent: 'order',
        medicationCodeableConcept: {
          coding: [
            {
              system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
              code: '855332',
              display: 'warfarin sodium 5 MG Oral Tablet',
            },
          ],
          text: 'warfarin 5 mg tablet',
        },
        subject: { reference: 'Patient/w-3' },
      } as fhir4.MedicationRequest,
    ]);
    expect((await loop.notify(order)).status).toBe(200);
    await loop.aegle.waitForIdle();
    // *8 (decreased function) is not in the IWPC model: its 'unknown' term would overdose this patient.
    expect(await doses('w-3')).toHaveLength(0);
    const [run] = await loop.aegle.db.query(
      `SELECT outcome, reason FROM plugin_run WHERE patient_ref = 'Patient/w-3' AND plugin_id = 'treatment-warfarin-iwpc'`,
    );
    expect(run.outcome).toBe('skipped');
    expect(run.reason).toMatch(/cyp2c9: "CYP2C9 \*1\/\*8" is not a value the model knows/);
  });
});

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { buildIwpcModel } from '../model/build-model';
import {
  CYP2C9_GENOTYPES,
  IWPC_CITATION,
  IWPC_FEATURES,
  RACE_CATEGORIES,
  VKORC1_GENOTYPES,
} from '../model/iwpc-coefficients';
import { iwpcDailyDose, iwpcFeatureRow, iwpcWeeklyDose, type IwpcInput } from '../model/iwpc-reference';

const MODEL_FILE = path.join(__dirname, '..', 'model.onnx');
const TOLERANCE = 1e-9;

interface Doses {
  weekly: number[];
  daily: number[];
}

let session: ort.InferenceSession;

beforeAll(async () => {
  session = await ort.InferenceSession.create(readFileSync(MODEL_FILE));
});

async function run(rows: readonly (readonly number[])[]): Promise<Doses> {
  const data = Float64Array.from(rows.flat());
  const features = new ort.Tensor('float64', data, [rows.length, IWPC_FEATURES.length]);
  const out = await session.run({ features });
  expect(out.weekly_dose.type).toBe('float64');
  expect(out.daily_dose.type).toBe('float64');
  expect(out.weekly_dose.dims).toEqual([rows.length, 1]);
  expect(out.daily_dose.dims).toEqual([rows.length, 1]);
  return {
    weekly: Array.from(out.weekly_dose.data as Float64Array),
    daily: Array.from(out.daily_dose.data as Float64Array),
  };
}

/**
 * Patients worked out by hand. `sqrtWeekly` is the explicit sum coefficient × value; `handWeekly` is
 * its square worked out on paper (the comment shows the terms). Together the patients cover every
 * VKORC1 genotype, every CYP2C9 genotype, every race category, the inducer and amiodarone.
 * Columns: age, height, weight, vkorc1, cyp2c9, race, inducer, amiodarone.
 */
const HAND_CASES: { name: string; features: number[]; sqrtWeekly: number; handWeekly: number }[] = [
  {
    // 65 y → 6 decades; VKORC1 G/G, CYP2C9 *1/*1, White (all reference), no interacting drugs.
    // 5.6044 − 1.5684 + 1.4790 + 1.0240 = 6.5390; 6.5390² = 42.758521 mg/wk; ÷ 7 = 6.108360 mg/d
    name: 'A: 65 y, 170 cm, 80 kg, G/G, *1/*1, White',
    features: [65, 170, 80, 0, 0, 0, 0, 0],
    sqrtWeekly: 5.6044 - 0.2614 * 6 + 0.0087 * 170 + 0.0128 * 80,
    handWeekly: 42.758521,
  },
  {
    // 52 y → 5 decades; A/G, *1/*2, Asian, amiodarone.
    // 5.6044 − 1.3070 + 1.3920 + 0.7680 − 0.8677 − 0.5211 − 0.1092 − 0.5503 = 4.4091;
    // 4.4091² = 19.44016281 mg/wk; ÷ 7 = 2.777166 mg/d
    name: 'B: 52 y, 160 cm, 60 kg, A/G, *1/*2, Asian, amiodarone',
    features: [52, 160, 60, 1, 1, 1, 0, 1],
    sqrtWeekly:
      5.6044 - 0.2614 * 5 + 0.0087 * 160 + 0.0128 * 60 - 0.8677 * 1 - 0.5211 * 1 - 0.1092 * 1 - 0.5503 * 1,
    handWeekly: 19.44016281,
  },
  {
    // 78 y → 7 decades; A/A, *1/*3, Black or African American, enzyme inducer.
    // 5.6044 − 1.8298 + 1.5834 + 1.2160 − 1.6974 − 0.9357 − 0.2760 + 1.1816 = 4.8465;
    // 4.8465² = 23.48856225 mg/wk; ÷ 7 = 3.355509 mg/d
    name: 'C: 78 y, 182 cm, 95 kg, A/A, *1/*3, Black, inducer',
    features: [78, 182, 95, 2, 2, 2, 1, 0],
    sqrtWeekly:
      5.6044 - 0.2614 * 7 + 0.0087 * 182 + 0.0128 * 95 - 1.6974 * 1 - 0.9357 * 1 - 0.276 * 1 + 1.1816 * 1,
    handWeekly: 23.48856225,
  },
  {
    // 44 y → 4 decades; VKORC1 unknown, *2/*2, missing or mixed race.
    // 5.6044 − 1.0456 + 1.5225 + 0.8960 − 0.4854 − 1.0616 − 0.1032 = 5.3271;
    // 5.3271² = 28.37799441 mg/wk; ÷ 7 = 4.053999 mg/d
    name: 'D: 44 y, 175 cm, 70 kg, VKORC1 unknown, *2/*2, race missing/mixed',
    features: [44, 175, 70, 3, 3, 3, 0, 0],
    sqrtWeekly: 5.6044 - 0.2614 * 4 + 0.0087 * 175 + 0.0128 * 70 - 0.4854 * 1 - 1.0616 * 1 - 0.1032 * 1,
    handWeekly: 28.37799441,
  },
  {
    // 30 y → 3 decades; G/G, *2/*3, White, enzyme inducer.
    // 5.6044 − 0.7842 + 1.4355 + 0.8704 − 1.9206 + 1.1816 = 6.3871; 6.3871² = 40.79504641 mg/wk; ÷ 7 = 5.827864 mg/d
    name: 'E: 30 y, 165 cm, 68 kg, G/G, *2/*3, White, inducer',
    features: [30, 165, 68, 0, 4, 0, 1, 0],
    sqrtWeekly: 5.6044 - 0.2614 * 3 + 0.0087 * 165 + 0.0128 * 68 - 1.9206 * 1 + 1.1816 * 1,
    handWeekly: 40.79504641,
  },
  {
    // 71 y → 7 decades; A/G, *3/*3, Asian, amiodarone.
    // 5.6044 − 1.8298 + 1.3746 + 0.7040 − 0.8677 − 2.3312 − 0.1092 − 0.5503 = 1.9948;
    // 1.9948² = 3.97922704 mg/wk; ÷ 7 = 0.568461 mg/d
    name: 'F: 71 y, 158 cm, 55 kg, A/G, *3/*3, Asian, amiodarone',
    features: [71, 158, 55, 1, 5, 1, 0, 1],
    sqrtWeekly:
      5.6044 - 0.2614 * 7 + 0.0087 * 158 + 0.0128 * 55 - 0.8677 * 1 - 2.3312 * 1 - 0.1092 * 1 - 0.5503 * 1,
    handWeekly: 3.97922704,
  },
  {
    // 85 y → 8 decades; A/A, CYP2C9 unknown, Black or African American, inducer and amiodarone.
    // 5.6044 − 2.0912 + 1.4790 + 0.9216 − 1.6974 − 0.2188 − 0.2760 + 1.1816 − 0.5503 = 4.3529;
    // 4.3529² = 18.94773841 mg/wk; ÷ 7 = 2.706820 mg/d
    name: 'G: 85 y, 170 cm, 72 kg, A/A, CYP2C9 unknown, Black, inducer + amiodarone',
    features: [85, 170, 72, 2, 6, 2, 1, 1],
    sqrtWeekly:
      5.6044 -
      0.2614 * 8 +
      0.0087 * 170 +
      0.0128 * 72 -
      1.6974 * 1 -
      0.2188 * 1 -
      0.276 * 1 +
      1.1816 * 1 -
      0.5503 * 1,
    handWeekly: 18.94773841,
  },
];

describe('IWPC pharmacogenetic warfarin model (model.onnx)', () => {
  it('has the graph contract: input features [N, 8] float64, outputs weekly_dose and daily_dose', () => {
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['weekly_dose', 'daily_dose']);
  });

  it('hand-worked patients cover every VKORC1, CYP2C9 and race category, the inducer and amiodarone', () => {
    const seen = (column: number) => new Set(HAND_CASES.map((c) => c.features[column]));
    expect(seen(3).size).toBe(VKORC1_GENOTYPES.length);
    expect(seen(4).size).toBe(CYP2C9_GENOTYPES.length);
    expect(seen(5).size).toBe(RACE_CATEGORIES.length);
    expect(seen(6)).toEqual(new Set([0, 1]));
    expect(seen(7)).toEqual(new Set([0, 1]));
  });

  it.each(HAND_CASES.map((c) => [c.name, c] as const))(
    'matches the hand-computed dose for %s',
    async (_name, c) => {
      // The hand arithmetic agrees with the written-out sum.
      expect(Math.abs(c.sqrtWeekly ** 2 - c.handWeekly)).toBeLessThan(TOLERANCE);
      const { weekly, daily } = await run([c.features]);
      expect(Math.abs(weekly[0] - c.sqrtWeekly ** 2)).toBeLessThan(TOLERANCE);
      expect(Math.abs(weekly[0] - c.handWeekly)).toBeLessThan(TOLERANCE);
      expect(Math.abs(daily[0] - c.sqrtWeekly ** 2 / 7)).toBeLessThan(TOLERANCE);
      expect(Math.abs(daily[0] - c.handWeekly / 7)).toBeLessThan(TOLERANCE);
    },
  );

  it('runs the hand-worked patients as one batch with the same results', async () => {
    const { weekly, daily } = await run(HAND_CASES.map((c) => c.features));
    HAND_CASES.forEach((c, i) => {
      expect(Math.abs(weekly[i] - c.handWeekly)).toBeLessThan(TOLERANCE);
      expect(Math.abs(daily[i] - c.handWeekly / 7)).toBeLessThan(TOLERANCE);
    });
  });

  it('uses age in decades, floor(age / 10): 59.9 and 50 give the same dose, 60 differs', async () => {
    // 170 cm, 80 kg, VKORC1 A/G, CYP2C9 *1/*3, White, no interacting drugs.
    const rest = [170, 80, 1, 2, 0, 0, 0];
    const { weekly } = await run([
      [59.9, ...rest],
      [50, ...rest],
      [60, ...rest],
    ]);
    expect(weekly[0]).toBe(weekly[1]);
    // 59.9 y and 50 y → 5 decades: 5.6044 − 1.3070 + 1.4790 + 1.0240 − 0.8677 − 0.9357 = 4.9970;
    // 4.9970² = 24.970009 mg/wk
    const fiveDecades = 5.6044 - 0.2614 * 5 + 0.0087 * 170 + 0.0128 * 80 - 0.8677 * 1 - 0.9357 * 1;
    expect(Math.abs(weekly[0] - fiveDecades ** 2)).toBeLessThan(TOLERANCE);
    expect(Math.abs(weekly[0] - 24.970009)).toBeLessThan(TOLERANCE);
    // 60 y → 6 decades: 4.9970 − 0.2614 = 4.7356; 4.7356² = 22.42590736 mg/wk
    const sixDecades = 5.6044 - 0.2614 * 6 + 0.0087 * 170 + 0.0128 * 80 - 0.8677 * 1 - 0.9357 * 1;
    expect(Math.abs(weekly[2] - sixDecades ** 2)).toBeLessThan(TOLERANCE);
    expect(Math.abs(weekly[2] - 22.42590736)).toBeLessThan(TOLERANCE);
    expect(weekly[2]).not.toBe(weekly[0]);
  });

  it('equals the TypeScript reference over a grid of every category combination', async () => {
    const inputs: IwpcInput[] = [];
    for (const ageYears of [18, 45.5, 59.9, 60, 77, 92])
      for (const [heightCm, weightKg] of [
        [150, 48.2],
        [172.5, 81.3],
        [190, 120],
      ])
        for (let vkorc1 = 0; vkorc1 < VKORC1_GENOTYPES.length; vkorc1++)
          for (let cyp2c9 = 0; cyp2c9 < CYP2C9_GENOTYPES.length; cyp2c9++)
            for (let race = 0; race < RACE_CATEGORIES.length; race++)
              for (const enzymeInducer of [0, 1])
                for (const amiodarone of [0, 1])
                  inputs.push({
                    ageYears,
                    heightCm,
                    weightKg,
                    vkorc1,
                    cyp2c9,
                    race,
                    enzymeInducer,
                    amiodarone,
                  });
    expect(inputs.length).toBe(6 * 3 * 4 * 7 * 4 * 2 * 2);
    const { weekly, daily } = await run(inputs.map(iwpcFeatureRow));
    let worst = 0;
    inputs.forEach((input, i) => {
      worst = Math.max(
        worst,
        Math.abs(weekly[i] - iwpcWeeklyDose(input)),
        Math.abs(daily[i] - iwpcDailyDose(input)),
      );
    });
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('is rebuilt byte for byte from the coefficients', () => {
    const committed = readFileSync(MODEL_FILE);
    const rebuilt = buildIwpcModel();
    expect(Buffer.compare(Buffer.from(rebuilt), committed)).toBe(0);
    expect(Buffer.compare(Buffer.from(buildIwpcModel()), committed)).toBe(0);
  });

  it('uses only opset-13 standard operators and carries the citation', () => {
    const model = onnx.ModelProto.decode(readFileSync(MODEL_FILE));
    expect(model.opsetImport).toEqual([expect.objectContaining({ domain: '', version: expect.anything() })]);
    expect(Number(model.opsetImport[0].version)).toBe(13);
    const ops = new Set(model.graph!.node!.map((n) => n.opType));
    expect([...ops].sort()).toEqual(['Add', 'Cast', 'Div', 'Floor', 'Gather', 'Mul']);
    expect(model.graph!.node!.every((n) => !n.domain)).toBe(true);
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(meta.citation).toBe(IWPC_CITATION);
    expect(meta.citation).toContain('N Engl J Med 2009;360:753-764');
  });
});

describe('IWPC TypeScript reference', () => {
  it('rejects category indices outside the published categories', () => {
    const ok: IwpcInput = {
      ageYears: 65,
      heightCm: 170,
      weightKg: 80,
      vkorc1: 0,
      cyp2c9: 0,
      race: 0,
      enzymeInducer: 0,
      amiodarone: 0,
    };
    expect(iwpcWeeklyDose(ok)).toBeCloseTo(42.758521, 9);
    expect(() => iwpcWeeklyDose({ ...ok, vkorc1: 4 })).toThrow(RangeError);
    expect(() => iwpcWeeklyDose({ ...ok, cyp2c9: 7 })).toThrow(RangeError);
    expect(() => iwpcWeeklyDose({ ...ok, race: -1 })).toThrow(RangeError);
    expect(() => iwpcWeeklyDose({ ...ok, amiodarone: 0.5 })).toThrow(RangeError);
  });
});

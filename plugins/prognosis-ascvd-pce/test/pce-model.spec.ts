import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildPceModel } from '../model/build-model';
import { PCE_EQUATIONS, PCE_FEATURES, pceGroupIndex } from '../model/pce-coefficients';
import { type PceInput, pooledCohortRisk } from '../model/pce-reference';

const MODEL_PATH = path.join(__dirname, '..', 'model.onnx');

interface Group {
  readonly label: string;
  readonly female: boolean;
  readonly africanAmerican: boolean;
}

/** The four groups in Table A order. */
const GROUPS: readonly Group[] = [
  { label: 'white women', female: true, africanAmerican: false },
  { label: 'African-American women', female: true, africanAmerican: true },
  { label: 'white men', female: false, africanAmerican: false },
  { label: 'African-American men', female: false, africanAmerican: true },
];

function featureRow(p: PceInput): number[] {
  const flag = (b: boolean): number => (b ? 1 : 0);
  return [
    p.age,
    p.totalCholesterol,
    p.hdlCholesterol,
    p.systolicBp,
    flag(p.bpTreated),
    flag(p.currentSmoker),
    flag(p.diabetes),
    flag(p.female),
    flag(p.africanAmerican),
  ];
}

/** A deterministic pseudo-random generator (LCG), so the sampled patients are the same on every run. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const WORKED_EXAMPLE = {
  age: 55,
  totalCholesterol: 213,
  hdlCholesterol: 50,
  systolicBp: 120,
  bpTreated: false,
  currentSmoker: false,
  diabetes: false,
};

describe('prognosis-ascvd-pce model.onnx (Pooled Cohort Equations)', () => {
  let committed: Uint8Array;
  let session: ort.InferenceSession;

  /** Runs the committed model on the patients in one batch; returns the risks in order. */
  async function risks(patients: readonly PceInput[]): Promise<Float64Array> {
    const data = Float64Array.from(patients.flatMap(featureRow));
    const out = await session.run({
      features: new ort.Tensor('float64', data, [patients.length, PCE_FEATURES.length]),
    });
    const risk = out.risk;
    expect(risk.type).toBe('float64');
    expect(risk.dims).toEqual([patients.length, 1]);
    return risk.data as Float64Array;
  }

  beforeAll(async () => {
    committed = new Uint8Array(readFileSync(MODEL_PATH));
    session = await ort.InferenceSession.create(committed);
  });

  afterAll(async () => {
    await session?.release();
  });

  it('has the graph contract: input features float64 [N, 9], output risk float64 [N, 1]', () => {
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['risk']);
    const [input] = session.inputMetadata;
    const [output] = session.outputMetadata;
    expect(input.isTensor && input.type).toBe('float64');
    expect(input.isTensor && input.shape).toEqual(['N', 9]);
    expect(output.isTensor && output.type).toBe('float64');
    expect(output.isTensor && output.shape).toEqual(['N', 1]);
  });

  it("reproduces the guideline's worked example (Goff 2014, Table A) within ±0.1 percentage point", async () => {
    const published = [2.1, 3.0, 5.3, 6.1];
    const patients = GROUPS.map((g) => ({
      ...WORKED_EXAMPLE,
      female: g.female,
      africanAmerican: g.africanAmerican,
    }));
    const measured = Array.from(await risks(patients), (r) => r * 100);
    measured.forEach((percent, i) => {
      expect(Math.abs(percent - published[i])).toBeLessThanOrEqual(0.1);
    });
  });

  it('selects the group by female/africanAmerican in the order of Table A', () => {
    expect(GROUPS.map((g) => PCE_EQUATIONS[pceGroupIndex(g.female, g.africanAmerican)].label)).toEqual([
      'White women',
      'African-American women',
      'White men',
      'African-American men',
    ]);
  });

  describe('against the TypeScript reference', () => {
    const ages = [40, 46, 52, 58, 64, 70, 76, 79];
    const totalCholesterols = [130, 170, 213, 250, 290, 320];
    const hdls = [20, 35, 50, 65, 80, 100];
    const sbps = [90, 110, 120, 140, 160, 180, 200];

    function grid(): PceInput[] {
      const patients: PceInput[] = [];
      for (const age of ages)
        for (const totalCholesterol of totalCholesterols)
          for (const hdlCholesterol of hdls)
            for (const systolicBp of sbps)
              for (let flags = 0; flags < 32; flags++)
                patients.push({
                  age,
                  totalCholesterol,
                  hdlCholesterol,
                  systolicBp,
                  bpTreated: (flags & 1) !== 0,
                  currentSmoker: (flags & 2) !== 0,
                  diabetes: (flags & 4) !== 0,
                  female: (flags & 8) !== 0,
                  africanAmerican: (flags & 16) !== 0,
                });
      return patients;
    }

    function sampled(n: number): PceInput[] {
      const next = lcg(20131112);
      const between = (lo: number, hi: number): number => lo + (hi - lo) * next();
      return Array.from({ length: n }, () => ({
        age: between(40, 79),
        totalCholesterol: between(130, 320),
        hdlCholesterol: between(20, 100),
        systolicBp: between(90, 200),
        bpTreated: next() < 0.5,
        currentSmoker: next() < 0.5,
        diabetes: next() < 0.5,
        female: next() < 0.5,
        africanAmerican: next() < 0.5,
      }));
    }

    it.each([
      ['a grid across the validity range, every flag combination', grid],
      ['2000 sampled patients with non-integer values', () => sampled(2000)],
    ])('matches pooledCohortRisk to 1e-9 for %s', async (_name, make) => {
      const patients = make();
      expect(patients.length).toBeGreaterThan(1000);
      const onnx = await risks(patients);
      let worst = 0;
      patients.forEach((p, i) => {
        worst = Math.max(worst, Math.abs(onnx[i] - pooledCohortRisk(p)));
      });
      expect(worst).toBeLessThanOrEqual(1e-9);

      // Every group, treatment, smoking and diabetes status is represented.
      for (const g of GROUPS) {
        const inGroup = patients.filter(
          (p) => p.female === g.female && p.africanAmerican === g.africanAmerican,
        );
        for (const key of ['bpTreated', 'currentSmoker', 'diabetes'] as const) {
          expect(inGroup.some((p) => p[key])).toBe(true);
          expect(inGroup.some((p) => !p[key])).toBe(true);
        }
      }
    });

    it('gives risks strictly between 0 and 1 at the corners of the validity range', async () => {
      const patients = grid().filter(
        (p) =>
          [40, 79].includes(p.age) &&
          [130, 320].includes(p.totalCholesterol) &&
          [20, 100].includes(p.hdlCholesterol) &&
          [90, 200].includes(p.systolicBp),
      );
      expect(patients).toHaveLength(2 ** 4 * 32);
      for (const r of await risks(patients)) {
        expect(r).toBeGreaterThan(0);
        expect(r).toBeLessThan(1);
      }
    });
  });

  describe('monotonicity', () => {
    const base: Omit<PceInput, 'female' | 'africanAmerican'> = {
      age: 60,
      totalCholesterol: 200,
      hdlCholesterol: 45,
      systolicBp: 140,
      bpTreated: false,
      currentSmoker: false,
      diabetes: false,
    };
    const ages = [40, 45, 50, 55, 60, 65, 70];

    /** Risks of pairs (b differs from a in one respect); returns [risk a, risk b] per pair. */
    async function pairs(list: readonly [PceInput, PceInput][]): Promise<[number, number][]> {
      const r = await risks(list.flat());
      return list.map((_, i) => [r[2 * i], r[2 * i + 1]]);
    }

    it.each(GROUPS)('higher systolic BP gives higher risk, treated and untreated ($label)', async (g) => {
      const sbps = [90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];
      for (const age of [40, 55, 70, 79])
        for (const bpTreated of [false, true]) {
          const r = await risks(sbps.map((systolicBp) => ({ ...base, ...g, age, bpTreated, systolicBp })));
          for (let i = 1; i < r.length; i++) expect(r[i]).toBeGreaterThan(r[i - 1]);
        }
    });

    it.each(GROUPS)('diabetes gives higher risk at every age 40–79 ($label)', async (g) => {
      const list = [...ages, 75, 79].map((age): [PceInput, PceInput] => [
        { ...base, ...g, age },
        { ...base, ...g, age, diabetes: true },
      ]);
      for (const [without, withDiabetes] of await pairs(list)) expect(withDiabetes).toBeGreaterThan(without);
    });

    it.each(GROUPS)('current smoking gives higher risk at ages 40–75 ($label)', async (g) => {
      const list = [...ages, 75].map((age): [PceInput, PceInput] => [
        { ...base, ...g, age },
        { ...base, ...g, age, currentSmoker: true },
      ]);
      for (const [non, smoker] of await pairs(list)) expect(smoker).toBeGreaterThan(non);
    });

    it.each(GROUPS)(
      'treated SBP gives higher risk than the same untreated SBP at ages 40–70 ($label)',
      async (g) => {
        const list = ages.flatMap((age) =>
          [110, 140, 180].map((systolicBp): [PceInput, PceInput] => [
            { ...base, ...g, age, systolicBp },
            { ...base, ...g, age, systolicBp, bpTreated: true },
          ]),
        );
        for (const [untreated, treated] of await pairs(list)) expect(treated).toBeGreaterThan(untreated);
      },
    );

    // Properties of the published equations themselves (age interaction terms), not of the graph: the
    // model card documents them. The sign of the effect follows β + β_age·ln(age) exactly.
    it('reproduces the published age interactions that reverse the smoking effect in white men after ~78.7 y', async () => {
      const c = PCE_EQUATIONS[pceGroupIndex(false, false)].coefficients;
      const crossover = Math.exp(-c.currentSmoker / c.lnAgeXCurrentSmoker);
      expect(crossover).toBeGreaterThan(78);
      expect(crossover).toBeLessThan(79);
      const g = GROUPS[2];
      const [[non78, smoker78], [non79, smoker79]] = await pairs(
        [78, 79].map((age): [PceInput, PceInput] => [
          { ...base, ...g, age },
          { ...base, ...g, age, currentSmoker: true },
        ]),
      );
      expect(smoker78).toBeGreaterThan(non78);
      expect(smoker79).toBeLessThan(non79);
    });

    it('reproduces the published age interactions that reverse the treated-SBP effect in African-American women after ~71 y', async () => {
      const c = PCE_EQUATIONS[pceGroupIndex(true, true)].coefficients;
      const crossover = Math.exp(
        (c.lnTreatedSystolicBp - c.lnUntreatedSystolicBp) /
          (c.lnAgeXLnUntreatedSystolicBp - c.lnAgeXLnTreatedSystolicBp),
      );
      expect(crossover).toBeGreaterThan(71);
      expect(crossover).toBeLessThan(72);
      const g = GROUPS[1];
      const [[untreated71, treated71], [untreated72, treated72]] = await pairs(
        [71, 72].map((age): [PceInput, PceInput] => [
          { ...base, ...g, age },
          { ...base, ...g, age, bpTreated: true },
        ]),
      );
      expect(treated71).toBeGreaterThan(untreated71);
      expect(treated72).toBeLessThan(untreated72);
    });
  });

  it('rebuilds to bytes identical to the committed model.onnx', () => {
    const rebuilt = buildPceModel();
    expect(Buffer.from(rebuilt).equals(Buffer.from(committed))).toBe(true);
    expect(Buffer.from(buildPceModel()).equals(Buffer.from(rebuilt))).toBe(true);
  });

  it('records the source publication in the model metadata', () => {
    const text = Buffer.from(committed).toString('utf8');
    expect(text).toContain('Circulation 2014;129(25 Suppl 2):S49-S73');
  });
});

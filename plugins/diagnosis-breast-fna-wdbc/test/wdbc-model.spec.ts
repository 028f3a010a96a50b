import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildWdbcModel, INPUT_NAME, MODEL_PATH, OUTPUT_NAME, type WdbcBuild } from '../model/build-model';
import {
  isHeldOut,
  loadWdbc,
  parseWdbcCsv,
  splitWdbc,
  WDBC_CSV_PATH,
  WDBC_CSV_SHA256,
} from '../model/dataset';
import { FEATURE_CODES, WDBC_CODESYSTEM_URL } from '../model/features';
import { classificationMetrics, rocAuc } from '../model/metrics';
import { choleskySolve, objectiveGradient, standardise, trainLogistic } from '../model/train';

const PLUGIN_DIR = path.join(__dirname, '..');

describe('diagnosis-breast-fna-wdbc model', () => {
  let build: WdbcBuild;

  beforeAll(() => {
    build = buildWdbcModel();
  });

  describe('data', () => {
    it('is the cited copy of WDBC (sha256 as in data/README.md)', () => {
      const sha = createHash('sha256').update(readFileSync(WDBC_CSV_PATH)).digest('hex');
      expect(sha).toBe(WDBC_CSV_SHA256);
      expect(readFileSync(path.join(PLUGIN_DIR, 'data', 'README.md'), 'utf8')).toContain(WDBC_CSV_SHA256);
    });

    it('parses 569 rows of 30 features; target 0 (malignant) becomes y = 1', () => {
      const data = loadWdbc();
      expect(data.features).toHaveLength(569);
      expect(data.features.every((row) => row.length === 30)).toBe(true);
      expect(data.y.filter((y) => y === 1)).toHaveLength(212); // 212 malignant, 357 benign
      data.target.forEach((t, i) => expect(data.y[i]).toBe(t === 0 ? 1 : 0));
      expect(data.features[0][0]).toBe(17.99);
      expect(data.y[0]).toBe(1);
    });

    it('rejects a malformed file', () => {
      expect(() => parseWdbcCsv('2,30,malignant,benign\n1,2,3\n')).toThrow(/header says|fields/);
      expect(() => parseWdbcCsv('1,29,malignant,benign\n1\n')).toThrow(/header/);
    });

    it('holds out the rows whose 0-based index % 5 == 0', () => {
      const { train, heldOut } = build.split;
      expect(heldOut.index).toHaveLength(114);
      expect(train.index).toHaveLength(455);
      expect(heldOut.index.every(isHeldOut)).toBe(true);
      expect(train.index.some(isHeldOut)).toBe(false);
      expect(heldOut.index.slice(0, 3)).toEqual([0, 5, 10]);
      expect(splitWdbc(loadWdbc())).toEqual(build.split);
    });
  });

  describe('training', () => {
    it('reaches the exact optimum of 0.5·||w||² + C·Σ logloss (gradient ≈ 0)', () => {
      const { model, split } = build;
      const z = standardise(split.train.features, model);
      const g = objectiveGradient(z, split.train.y, model.weights, model.intercept, model.C);
      expect(g).toHaveLength(31);
      expect(Math.max(...g.map(Math.abs))).toBeLessThan(1e-6);
      expect(model.C).toBe(1);
    });

    it('standardises with the training rows mean and population SD', () => {
      const rows = build.split.train.features;
      const n = rows.length;
      const mean0 = rows.reduce((s, r) => s + r[0], 0) / n;
      const sd0 = Math.sqrt(rows.reduce((s, r) => s + (r[0] - mean0) ** 2, 0) / n);
      expect(build.model.means[0]).toBeCloseTo(mean0, 12);
      expect(build.model.sds[0]).toBeCloseTo(sd0, 12);
    });

    it('is deterministic', () => {
      const again = trainLogistic(build.split.train.features, build.split.train.y, { C: 1 });
      expect(again.weights).toEqual(build.model.weights);
      expect(again.intercept).toBe(build.model.intercept);
    });

    it('solves linear systems by Cholesky', () => {
      const x = choleskySolve(
        [
          [4, 2, 0],
          [2, 5, 1],
          [0, 1, 3],
        ],
        [6, 8, 4],
      );
      x.forEach((v) => expect(v).toBeCloseTo(1, 12));
    });
  });

  describe('held-out validation', () => {
    it('reaches accuracy >= 0.95 and ROC AUC >= 0.99', () => {
      const m = build.heldOutMetrics;
      // Reported for the model card (README.md, "Validation").
      process.stdout.write(
        `WDBC held-out n=${m.n}: accuracy ${m.accuracy.toFixed(4)}, sensitivity ${m.sensitivity.toFixed(4)}, ` +
          `specificity ${m.specificity.toFixed(4)}, ROC AUC ${m.rocAuc.toFixed(4)} ` +
          `(TP ${m.tp}, FN ${m.fn}, TN ${m.tn}, FP ${m.fp})\n`,
      );
      expect(m.n).toBe(114);
      expect(m.accuracy).toBeGreaterThanOrEqual(0.95);
      expect(m.rocAuc).toBeGreaterThanOrEqual(0.99);
      expect(m.sensitivity).toBeGreaterThan(0.85);
      expect(m.specificity).toBeGreaterThan(0.95);
    });

    it('computes metrics correctly on small cases (ties count one half)', () => {
      expect(rocAuc([1, 0], [0.9, 0.1])).toBe(1);
      expect(rocAuc([1, 0], [0.1, 0.9])).toBe(0);
      expect(rocAuc([1, 0], [0.5, 0.5])).toBe(0.5);
      expect(rocAuc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.2])).toBe(0.875);
      const m = classificationMetrics([1, 1, 0, 0], [0.5, 0.4, 0.6, 0.1]);
      expect(m).toMatchObject({
        tp: 1,
        fn: 1,
        fp: 1,
        tn: 1,
        accuracy: 0.5,
        sensitivity: 0.5,
        specificity: 0.5,
      });
    });
  });

  describe('ONNX export', () => {
    it('matches the TypeScript model to 1e-6 on every held-out row (one batched float64 run)', async () => {
      const session = await ort.InferenceSession.create(build.bytes);
      expect(session.inputNames).toEqual([INPUT_NAME]);
      expect(session.outputNames).toEqual([OUTPUT_NAME]);
      const rows = build.split.heldOut.features;
      const input = new ort.Tensor('float64', Float64Array.from(rows.flat()), [rows.length, 30]);
      const result = await session.run({ [INPUT_NAME]: input });
      const output = result[OUTPUT_NAME];
      expect(output.type).toBe('float64');
      expect(output.dims).toEqual([rows.length, 1]);
      const probabilities = Array.from(output.data as Float64Array);
      expect(probabilities).toHaveLength(rows.length);
      probabilities.forEach((p, i) => {
        expect(Math.abs(p - build.heldOutProbabilities[i])).toBeLessThan(1e-6);
      });
      await session.release();
    });

    it('rebuilds to bytes identical to the committed model.onnx', () => {
      const committed = new Uint8Array(readFileSync(MODEL_PATH));
      expect(Buffer.from(buildWdbcModel().bytes).equals(Buffer.from(committed))).toBe(true);
      expect(Buffer.from(build.bytes).equals(Buffer.from(committed))).toBe(true);
    });
  });

  describe('codesystem.json', () => {
    const codeSystem = JSON.parse(readFileSync(path.join(PLUGIN_DIR, 'codesystem.json'), 'utf8')) as {
      resourceType: string;
      url: string;
      status: string;
      content: string;
      publisher: string;
      concept: { code: string; display: string; definition: string }[];
    };

    it('is the Aegle WDBC feature CodeSystem', () => {
      expect(codeSystem).toMatchObject({
        resourceType: 'CodeSystem',
        url: WDBC_CODESYSTEM_URL,
        status: 'active',
        content: 'complete',
        publisher: 'Aegle',
      });
    });

    it('has 30 unique codes in the model input order, each with display and a unit in its definition', () => {
      const codes = codeSystem.concept.map((c) => c.code);
      expect(codes).toHaveLength(30);
      expect(new Set(codes).size).toBe(30);
      expect(codes).toEqual([...FEATURE_CODES]);
      expect(codes.slice(0, 2)).toEqual(['radius-mean', 'texture-mean']);
      expect(codes[10]).toBe('radius-se');
      expect(codes[20]).toBe('radius-worst');
      for (const c of codeSystem.concept) {
        expect(c.display).toBeTruthy();
        expect(c.definition).toMatch(/Unit: /);
      }
    });
  });
});

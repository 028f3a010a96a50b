import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { readTrainingSummary, renderGenerated, withGenerated } from '../model/card';
import {
  imagePixels,
  loadPneumoniaMnist,
  PNEUMONIAMNIST_ABSENT,
  PNEUMONIAMNIST_FILE,
  pneumoniaMnistPresent,
} from '../model/dataset';
import {
  brierScore,
  chooseThreshold,
  INPUT_NAME,
  MODEL_CARD_FILE,
  MODEL_FILE,
  MODEL_SHA256_FILE,
  OUTPUT_NAME,
  predict,
  readValidationFigures,
  reliabilityTable,
  validationFigures,
} from '../model/validate';

/** sha256 of the data file, as published in `../shared/data/pneumoniamnist/README.md`. */
const DATA_SHA256 = '3351689908eb27a725afc4dbf2aa8d6f637b629eee2f3b47cd1be0101e96128f';

const modelBytes = new Uint8Array(readFileSync(MODEL_FILE));
const dataPresent = pneumoniaMnistPresent();
if (!dataPresent) process.stdout.write(`Skipping the validation-split tests: ${PNEUMONIAMNIST_ABSENT}\n`);
const withData = dataPresent ? describe : describe.skip;

/**
 * `measured` with every number that is within 1e-6 of the one at the same place in `expected`
 * replaced by the expected number, so `toEqual` shows only real differences.
 */
function withinMillionth(measured: unknown, expected: unknown): unknown {
  if (typeof measured === 'number' && typeof expected === 'number') {
    return Math.abs(measured - expected) <= 1e-6 ? expected : measured;
  }
  if (Array.isArray(measured) && Array.isArray(expected)) {
    return measured.map((item, index) => withinMillionth(item, expected[index]));
  }
  if (measured && expected && typeof measured === 'object' && typeof expected === 'object') {
    const reference = expected as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(measured).map(([key, item]) => [key, withinMillionth(item, reference[key])]),
    );
  }
  return measured;
}

describe('diagnosis-pneumonia-cxr model', () => {
  describe('committed file', () => {
    it('has the sha256 written beside it and in the model card', () => {
      const sha256 = createHash('sha256').update(modelBytes).digest('hex');
      expect(readFileSync(MODEL_SHA256_FILE, 'utf8')).toBe(`${sha256}  pneumonia-cxr-cnn.onnx\n`);
      expect(readFileSync(MODEL_CARD_FILE, 'utf8')).toContain(sha256);
    });

    it('takes image float32 [N, 1, 28, 28] grey levels 0–255 and gives probability [N, 1] in [0, 1], any batch size', async () => {
      const session = await ort.InferenceSession.create(modelBytes);
      expect(session.inputNames).toEqual([INPUT_NAME]);
      expect(session.outputNames).toEqual([OUTPUT_NAME]);
      const pixels = new Float32Array(3 * 784);
      pixels.fill(255, 784, 2 * 784); // black, white, and a ramp of grey levels
      for (let i = 0; i < 784; i++) pixels[2 * 784 + i] = i % 256;
      const batch = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', pixels, [3, 1, 28, 28]) });
      expect(batch[OUTPUT_NAME].dims).toEqual([3, 1]);
      const probabilities = Array.from(batch[OUTPUT_NAME].data as Float32Array);
      for (const p of probabilities) expect(p >= 0 && p <= 1).toBe(true);
      for (let i = 0; i < 3; i++) {
        const one = await session.run({
          [INPUT_NAME]: new ort.Tensor('float32', pixels.slice(i * 784, (i + 1) * 784), [1, 1, 28, 28]),
        });
        expect(one[OUTPUT_NAME].dims).toEqual([1, 1]);
        expect((one[OUTPUT_NAME].data as Float32Array)[0]).toBeCloseTo(probabilities[i], 6);
      }
      await session.release();
    });
  });

  describe('model card', () => {
    it('shows exactly the figures of validation.json and training.json (as training writes them)', () => {
      const card = readFileSync(MODEL_CARD_FILE, 'utf8');
      const sha256 = createHash('sha256').update(modelBytes).digest('hex');
      const generated = renderGenerated(
        readValidationFigures(),
        readTrainingSummary(),
        sha256,
        modelBytes.length,
      );
      // Prettier pads the tables when training writes the card; compare without the padding.
      const unpadded = (markdown: string) => markdown.replace(/ +/g, ' ').replace(/-{3,}/g, '---');
      expect(unpadded(card)).toBe(unpadded(withGenerated(card, generated)));
    });

    it('states figures that meet the floors: AUC ≥ 0.99, sensitivity ≥ 0.95', () => {
      const figures = readValidationFigures();
      expect(figures.rocAuc).toBeGreaterThanOrEqual(0.99);
      expect(figures.sensitivity).toBeGreaterThanOrEqual(0.95);
      expect(figures.n).toBe(524);
    });
  });

  withData('on the validation split', () => {
    let val: ReturnType<typeof loadPneumoniaMnist>;
    let probabilities: Float32Array;

    beforeAll(async () => {
      val = loadPneumoniaMnist('val');
      probabilities = await predict(modelBytes, val);
    });

    it('reads the cited data file (sha256 and class counts as in its README)', () => {
      expect(createHash('sha256').update(readFileSync(PNEUMONIAMNIST_FILE)).digest('hex')).toBe(DATA_SHA256);
      const train = loadPneumoniaMnist('train');
      expect([train.count, train.labels.filter((l) => l === 1).length]).toEqual([4708, 3494]);
      expect([val.count, val.labels.filter((l) => l === 1).length]).toEqual([524, 389]);
      expect(imagePixels(val, 523)).toHaveLength(784);
      expect(() => imagePixels(val, 524)).toThrow('val has no image 524 (0 to 523)');
    });

    it("reproduces the card's threshold, AUC, sensitivity, specificity, Brier score and reliability", () => {
      const stated = readValidationFigures();
      const measured = validationFigures(val.labels, probabilities);
      // Counts, rates of counts and the threshold match exactly; onnxruntime picks its kernels by the
      // CPU's instruction set, so probabilities (and the means and Brier score made of them) may differ
      // from the training machine's in the 8th decimal.
      expect(withinMillionth(measured, stated)).toEqual(stated);
      expect(measured.threshold).toBe(stated.threshold);
      // Reported for the model card.
      process.stdout.write(
        `PneumoniaMNIST val n=${measured.n}: AUC ${measured.rocAuc.toFixed(4)}, threshold ${measured.threshold}, ` +
          `sensitivity ${measured.sensitivity.toFixed(4)}, specificity ${measured.specificity.toFixed(4)}, ` +
          `Brier ${measured.brier.toFixed(4)}\n`,
      );
    });
  });

  describe('figures', () => {
    it('chooses the highest threshold with sensitivity ≥ 0.95, as the shortest decimal above the next score', () => {
      const labels = [...Array<number>(20).fill(1), 0, 0, 0];
      const positives = [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.9, 0.89, 0.88, 0.87, 0.86];
      const scores = [...positives, 0.85, 0.84, 0.8, 0.75, 0.725, 0.711, 0.7, 0.705, 0.2];
      // 19 of 20 positives (≥ 0.725) keep sensitivity at 0.95; the next lower score is 0.711.
      expect(chooseThreshold(labels, scores)).toBe(0.72);
      expect(validationFigures(Uint8Array.from(labels), Float32Array.from(scores)).specificity).toBe(1);
      expect(validationFigures(Uint8Array.from(labels), Float32Array.from(scores)).sensitivity).toBe(0.95);
      expect(chooseThreshold([1, 0], [0.5, 0.25])).toBe(0.3);
    });

    it('bins the reliability table by predicted probability, 1 in the last bin', () => {
      const table = reliabilityTable([0, 1, 1, 0], [0.05, 0.95, 1, 0.99]);
      expect(table).toHaveLength(10);
      expect(table[0]).toEqual({ from: 0, to: 0.1, n: 1, meanPredicted: 0.05, observedPneumonia: 0 });
      expect(table[9].n).toBe(3);
      expect(table[9].observedPneumonia).toBeCloseTo(2 / 3, 12);
      expect(table[5]).toMatchObject({ n: 0, meanPredicted: null, observedPneumonia: null });
    });

    it('computes the Brier score as the mean squared error of the probability', () => {
      expect(brierScore([1, 0], [1, 0])).toBe(0);
      expect(brierScore([1, 0, 1, 0], [0.5, 0.5, 0, 1])).toBe(0.625);
    });
  });
});

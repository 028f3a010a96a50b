/**
 * Validation of the exported model as Aegle runs it: onnxruntime-node on the ONNX file, the whole
 * validation split in one batch. Training writes these figures into `validation.json` and the model
 * card; the plugin's test recomputes them and must find the same numbers.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { classificationMetrics, confusion } from '../../diagnosis-breast-fna-wdbc/model/metrics';
import { IMAGE_SIZE, type PneumoniaMnistImages } from './dataset';

export const MODEL_DIR = __dirname;
export const MODEL_FILE = path.join(MODEL_DIR, 'pneumonia-cxr-cnn.onnx');
export const MODEL_SHA256_FILE = `${MODEL_FILE}.sha256`;
export const VALIDATION_FILE = path.join(MODEL_DIR, 'validation.json');
export const TRAINING_FILE = path.join(MODEL_DIR, 'training.json');
export const MODEL_CARD_FILE = path.join(MODEL_DIR, '..', 'MODEL_CARD.md');

export const INPUT_NAME = 'image';
export const OUTPUT_NAME = 'probability';

/** The operating point: sensitivity at least this on the validation split, then best specificity. */
export const MIN_SENSITIVITY = 0.95;
const RELIABILITY_BINS = 10;

export interface ReliabilityBin {
  /** Predicted probability in [from, to) (the last bin includes 1). */
  from: number;
  to: number;
  n: number;
  meanPredicted: number | null;
  observedPneumonia: number | null;
}

export interface ValidationFigures {
  split: 'val';
  n: number;
  pneumonia: number;
  normal: number;
  threshold: number;
  rocAuc: number;
  sensitivity: number;
  specificity: number;
  accuracy: number;
  tp: number;
  fn: number;
  tn: number;
  fp: number;
  brier: number;
  reliability: ReliabilityBin[];
}

/** P(pneumonia) for every image of the split, one batched run. */
export async function predict(modelBytes: Uint8Array, images: PneumoniaMnistImages): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelBytes);
  try {
    const input = new ort.Tensor('float32', Float32Array.from(images.pixels), [
      images.count,
      1,
      IMAGE_SIZE,
      IMAGE_SIZE,
    ]);
    const output = (await session.run({ [INPUT_NAME]: input }))[OUTPUT_NAME];
    if (output.type !== 'float32' || output.dims.join() !== `${images.count},1`) {
      throw new Error(`${OUTPUT_NAME}: ${output.type} [${output.dims.join(', ')}], expected float32 [N, 1]`);
    }
    return output.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * The highest threshold that keeps sensitivity ≥ {@link MIN_SENSITIVITY} (specificity can only fall
 * as the threshold drops), written as the shortest decimal that classifies every case the same way:
 * it lies strictly above the next lower score, so the figures do not hang on the last float bit.
 */
export function chooseThreshold(labels: readonly number[], scores: readonly number[]): number {
  const positives = scores.filter((_, i) => labels[i] === 1).sort((a, b) => b - a);
  if (positives.length === 0) throw new Error('chooseThreshold: no positive cases');
  const needed = Math.ceil(MIN_SENSITIVITY * positives.length - 1e-9);
  const high = positives[needed - 1];
  const below = scores.filter((s) => s < high);
  const low = below.length > 0 ? Math.max(...below) : 0;
  for (let decimals = 1; decimals <= 12; decimals++) {
    const scale = 10 ** decimals;
    const candidate = Math.floor(low * scale + 1) / scale;
    if (candidate > low && candidate <= high) return candidate;
  }
  return high;
}

export function reliabilityTable(labels: readonly number[], scores: readonly number[]): ReliabilityBin[] {
  return Array.from({ length: RELIABILITY_BINS }, (_, bin) => {
    const from = bin / RELIABILITY_BINS;
    const to = (bin + 1) / RELIABILITY_BINS;
    const last = bin === RELIABILITY_BINS - 1;
    const members = scores.flatMap((s, i) => (s >= from && (s < to || (last && s <= to)) ? [i] : []));
    const mean = (values: number[]) =>
      values.length === 0 ? null : values.reduce((sum, v) => sum + v, 0) / values.length;
    return {
      from,
      to,
      n: members.length,
      meanPredicted: mean(members.map((i) => scores[i])),
      observedPneumonia: mean(members.map((i) => labels[i])),
    };
  });
}

export function brierScore(labels: readonly number[], scores: readonly number[]): number {
  return scores.reduce((sum, s, i) => sum + (s - labels[i]) ** 2, 0) / scores.length;
}

/** Every figure of the card, from the labels and the model's probabilities. */
export function validationFigures(
  labelBytes: Uint8Array,
  probabilities: Float32Array,
  threshold?: number,
): ValidationFigures {
  const labels = Array.from(labelBytes);
  const scores = Array.from(probabilities);
  const chosen = threshold ?? chooseThreshold(labels, scores);
  const metrics = classificationMetrics(labels, scores, chosen);
  const { tp, fn, tn, fp } = confusion(labels, scores, chosen);
  return {
    split: 'val',
    n: labels.length,
    pneumonia: tp + fn,
    normal: tn + fp,
    threshold: chosen,
    rocAuc: metrics.rocAuc,
    sensitivity: metrics.sensitivity,
    specificity: metrics.specificity,
    accuracy: metrics.accuracy,
    tp,
    fn,
    tn,
    fp,
    brier: brierScore(labels, scores),
    reliability: reliabilityTable(labels, scores),
  };
}

export function readValidationFigures(): ValidationFigures {
  return JSON.parse(readFileSync(VALIDATION_FILE, 'utf8')) as ValidationFigures;
}

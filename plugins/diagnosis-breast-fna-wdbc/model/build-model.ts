/**
 * Trains the WDBC malignancy model and exports it as ONNX.
 *
 *   node -r @swc-node/register plugins/diagnosis-breast-fna-wdbc/model/build-model.ts
 *
 * writes `plugins/diagnosis-breast-fna-wdbc/model.onnx` and prints its sha256 and the held-out metrics.
 *
 * Graph contract: input `features` float64 ['N', 30] (raw values, {@link FEATURE_CODES} order) →
 * Sub(mean) → Div(sd) → MatMul(weights [30, 1]) → Add(intercept [1]) → Sigmoid → output
 * `probability` float64 ['N', 1] = P(malignant).
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { OnnxGraphBuilder } from '@aegle/plugin-sdk/onnx';
import {
  loadWdbc,
  splitWdbc,
  WDBC_CITATION,
  WDBC_CSV_SHA256,
  type WdbcDataset,
  type WdbcSplit,
} from './dataset';
import { FEATURE_CODES, FEATURE_COUNT, WDBC_CODESYSTEM_URL } from './features';
import { classificationMetrics, type ClassificationMetrics } from './metrics';
import { predictProbabilities, trainLogistic, type LogisticModel } from './train';

export const MODEL_PATH = path.join(__dirname, '..', 'model.onnx');
export const INPUT_NAME = 'features';
export const OUTPUT_NAME = 'probability';

export interface WdbcBuild {
  bytes: Uint8Array;
  sha256: string;
  model: LogisticModel;
  data: WdbcDataset;
  split: WdbcSplit;
  /** The TypeScript model's P(malignant) on the held-out rows, in split order. */
  heldOutProbabilities: number[];
  heldOutMetrics: ClassificationMetrics;
}

/** The ONNX graph for a trained model; the same model gives the same bytes. */
export function exportOnnx(model: LogisticModel): Uint8Array {
  if (model.weights.length !== FEATURE_COUNT) throw new Error('exportOnnx: expected 30 weights');
  const g = new OnnxGraphBuilder('wdbc_fna_malignancy', 13);
  const x = g.input(INPUT_NAME, 'float64', ['N', FEATURE_COUNT]);
  const mean = g.constant('float64', [FEATURE_COUNT], model.means, 'feature_mean');
  const sd = g.constant('float64', [FEATURE_COUNT], model.sds, 'feature_sd');
  const weights = g.constant('float64', [FEATURE_COUNT, 1], model.weights, 'weights');
  const intercept = g.constant('float64', [1], [model.intercept], 'intercept');
  const centred = g.op('Sub', [x, mean], {}, 'centred');
  const standardised = g.op('Div', [centred, sd], {}, 'standardised');
  const product = g.op('MatMul', [standardised, weights], {}, 'linear_predictor_no_intercept');
  const logit = g.op('Add', [product, intercept], {}, 'logit');
  g.op('Sigmoid', [logit], {}, OUTPUT_NAME);
  g.output(OUTPUT_NAME, 'float64', ['N', 1]);

  g.meta('model', 'P(malignant) of a breast mass from 30 FNA cytology nuclear features (WDBC)');
  g.meta('data_source', WDBC_CITATION);
  g.meta('data_sha256', WDBC_CSV_SHA256);
  g.meta(
    'published_context',
    'Street WN, Wolberg WH, Mangasarian OL. Nuclear feature extraction for breast tumor diagnosis. ' +
      'IS&T/SPIE 1993 International Symposium on Electronic Imaging: Science and Technology, vol. 1905, ' +
      'pp. 861-870 (about 97% cross-validated accuracy).',
  );
  g.meta(
    'training',
    'L2-regularised logistic regression, C=1, intercept unpenalised, Newton/IRLS to the exact optimum; ' +
      'features standardised with the training rows mean and population SD; held out: 0-based row index % 5 == 0',
  );
  g.meta('input', `${INPUT_NAME}: float64 [N, 30] raw feature values; codes from ${WDBC_CODESYSTEM_URL}`);
  g.meta('input_feature_order', FEATURE_CODES.join(','));
  g.meta('output', `${OUTPUT_NAME}: float64 [N, 1] = P(malignant); >= 0.5 suspicious for malignancy`);
  g.meta('intended_use', 'Research-grade decision support; not validated for clinical use');
  return g.build();
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Loads the plugin's data copy, trains on the training rows, exports ONNX and scores the held-out rows. */
export function buildWdbcModel(): WdbcBuild {
  const data = loadWdbc();
  const split = splitWdbc(data);
  const model = trainLogistic(split.train.features, split.train.y, { C: 1 });
  const bytes = exportOnnx(model);
  const heldOutProbabilities = predictProbabilities(model, split.heldOut.features);
  return {
    bytes,
    sha256: sha256Hex(bytes),
    model,
    data,
    split,
    heldOutProbabilities,
    heldOutMetrics: classificationMetrics(split.heldOut.y, heldOutProbabilities),
  };
}

if (require.main === module) {
  const build = buildWdbcModel();
  writeFileSync(MODEL_PATH, build.bytes);
  const m = build.heldOutMetrics;
  const lines = [
    `wrote ${path.relative(process.cwd(), MODEL_PATH)} (${build.bytes.length} bytes)`,
    `sha256 ${build.sha256}`,
    `training rows ${build.split.train.y.length}, held-out rows ${m.n}; Newton iterations ${build.model.iterations}, ` +
      `max |gradient| ${build.model.gradientMaxAbs.toExponential(2)}`,
    `held-out (threshold ${m.threshold}): TP ${m.tp} FN ${m.fn} TN ${m.tn} FP ${m.fp}`,
    `accuracy ${m.accuracy.toFixed(4)} (${m.tp + m.tn}/${m.n})`,
    `sensitivity ${m.sensitivity.toFixed(4)} (${m.tp}/${m.tp + m.fn})`,
    `specificity ${m.specificity.toFixed(4)} (${m.tn}/${m.tn + m.fp})`,
    `ROC AUC ${m.rocAuc.toFixed(4)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

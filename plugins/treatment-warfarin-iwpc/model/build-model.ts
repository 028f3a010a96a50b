/**
 * Builds `plugins/treatment-warfarin-iwpc/model.onnx`: the IWPC pharmacogenetic warfarin dosing
 * algorithm as an ONNX graph (opset 13, standard operators only, float64 throughout).
 *
 *   input   features     float64 [N, 8]  ageYears, heightCm, weightKg, vkorc1, cyp2c9, race,
 *                                          enzymeInducer, amiodarone (see iwpc-coefficients.ts)
 *   output  weekly_dose  float64 [N, 1]  mg/week = (linear predictor)²
 *   output  daily_dose   float64 [N, 1]  mg/day = weekly_dose / 7
 *
 * Run: node -r @swc-node/register plugins/treatment-warfarin-iwpc/model/build-model.ts
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { OnnxGraphBuilder } from '@aegle/plugin-sdk/onnx';
import {
  CYP2C9_GENOTYPES,
  IWPC_CITATION,
  IWPC_COEFFICIENTS,
  IWPC_DOI,
  IWPC_FEATURES,
  RACE_CATEGORIES,
  VKORC1_GENOTYPES,
  type IwpcFeature,
} from './iwpc-coefficients';

export const MODEL_PATH = path.join(__dirname, '..', 'model.onnx');

/** ONNX `TensorProto.DataType.INT64`, the `to` attribute of Cast. */
const INT64 = 7;

export function buildIwpcModel(): Uint8Array {
  const c = IWPC_COEFFICIENTS;
  const g = new OnnxGraphBuilder('iwpc_warfarin_pharmacogenetic', 13);

  const features = g.input('features', 'float64', ['N', IWPC_FEATURES.length]);
  g.output('weekly_dose', 'float64', ['N', 1]);
  g.output('daily_dose', 'float64', ['N', 1]);

  /** One feature column as [N, 1]. */
  const column = (feature: IwpcFeature): string => {
    const index = g.constant('int64', [1], [IWPC_FEATURES.indexOf(feature)], `col_${feature}`);
    return g.op('Gather', [features, index], { axis: 1 }, feature);
  };
  const scalar = (value: number, name: string): string => g.constant('float64', [], [value], name);
  /** coefficient × column, [N, 1]. */
  const linear = (feature: IwpcFeature, coefficient: number, x = column(feature)): string =>
    g.op('Mul', [x, scalar(coefficient, `coef_${feature}`)], {}, `term_${feature}`);
  /** The coefficient for the category in the column: Cast to int64, Gather on the coefficient vector; [N, 1]. */
  const categorical = (feature: IwpcFeature, coefficients: readonly number[]): string => {
    const index = g.op('Cast', [column(feature)], { to: INT64 }, `${feature}_index`);
    const table = g.constant('float64', [coefficients.length], coefficients, `coef_${feature}`);
    return g.op('Gather', [table, index], { axis: 0 }, `term_${feature}`);
  };

  // Age in decades = floor(age / 10).
  const decades = g.op(
    'Floor',
    [g.op('Div', [column('ageYears'), scalar(10, 'ten')], {}, 'age_over_10')],
    {},
    'age_decades',
  );

  const terms = [
    linear('ageYears', c.ageDecades, decades),
    linear('heightCm', c.heightCm),
    linear('weightKg', c.weightKg),
    categorical('vkorc1', c.vkorc1),
    categorical('cyp2c9', c.cyp2c9),
    categorical('race', c.race),
    categorical('enzymeInducer', [0, c.enzymeInducer]),
    categorical('amiodarone', [0, c.amiodarone]),
  ];
  // Summed left to right from the intercept, the same order as the TypeScript reference.
  let sqrtWeekly = g.op('Add', [scalar(c.intercept, 'intercept'), terms[0]], {}, 'sum_0');
  terms.slice(1).forEach((term, i) => {
    sqrtWeekly = g.op('Add', [sqrtWeekly, term], {}, `sum_${i + 1}`);
  });

  g.op('Mul', [sqrtWeekly, sqrtWeekly], {}, 'weekly_dose');
  g.op('Div', ['weekly_dose', scalar(7, 'seven')], {}, 'daily_dose');

  g.meta('name', 'IWPC pharmacogenetic warfarin dosing algorithm')
    .meta('citation', IWPC_CITATION)
    .meta('doi', IWPC_DOI)
    .meta(
      'equation',
      'weekly_dose = (5.6044 + sum of coefficient x value)^2 mg/week; daily_dose = weekly_dose / 7',
    )
    .meta('features', IWPC_FEATURES.join(','))
    .meta('vkorc1_index', VKORC1_GENOTYPES.join(','))
    .meta('cyp2c9_index', CYP2C9_GENOTYPES.join(','))
    .meta('race_index', RACE_CATEGORIES.join(','))
    .meta('units', 'weekly_dose mg/wk; daily_dose mg/d')
    .meta(
      'intended_use',
      'Decision support for clinicians; not a substitute for clinical judgement; never an order.',
    );

  return g.build();
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

if (require.main === module) {
  const bytes = buildIwpcModel();
  writeFileSync(MODEL_PATH, bytes);
  console.log(`${path.relative(process.cwd(), MODEL_PATH)} ${bytes.length} bytes sha256 ${sha256(bytes)}`);
}

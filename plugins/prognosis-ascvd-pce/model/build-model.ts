/**
 * Builds `model.onnx` for the prognosis-ascvd-pce plugin: the 2013 ACC/AHA Pooled Cohort Equations
 * (Goff DC Jr et al., Circulation 2014;129(25 Suppl 2):S49–S73, Appendix 7, Table A) as an opset-13
 * ONNX graph, in float64.
 *
 *   input  `features` float64 [N, 9]: age, totalCholesterol, hdlCholesterol, systolicBp, bpTreated,
 *          currentSmoker, diabetes, female, africanAmerican (flags 0/1)
 *   output `risk`     float64 [N, 1]: 10-year hard ASCVD risk as a fraction, 1 − S₁₀ ^ exp(Σβx − mean)
 *
 * The graph does not check the validity range; callers do (see PCE_VALIDITY).
 *
 * Run: node -r @swc-node/register plugins/prognosis-ascvd-pce/model/build-model.ts
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { OnnxGraphBuilder } from '@aegle/plugin-sdk/onnx';
import { PCE_EQUATIONS, PCE_FEATURES, PCE_TERMS, PCE_VALIDITY, type PceFeature } from './pce-coefficients';

export const PCE_MODEL_PATH = path.join(__dirname, '..', 'model.onnx');

export function buildPceModel(): Uint8Array {
  const b = new OnnxGraphBuilder('prognosis_ascvd_pce');
  const features = b.input('features', 'float64', ['N', PCE_FEATURES.length]);

  const column = (name: PceFeature): number => PCE_FEATURES.indexOf(name);
  /** One feature column as [N, 1]. */
  const col = (name: PceFeature): string =>
    b.op('Gather', [features, b.constant('int64', [1], [column(name)], `col_${name}`)], { axis: 1 }, name);
  /** One feature column as [N] (scalar index). */
  const vec = (name: PceFeature): string =>
    b.op(
      'Gather',
      [features, b.constant('int64', [], [column(name)], `idx_${name}`)],
      { axis: 1 },
      `${name}_vec`,
    );
  const scalar = (value: number, name: string): string => b.constant('float64', [], [value], name);

  // Continuous inputs, natural logs, each [N, 1].
  const lnAge = b.op('Log', [col('age')], {}, 'ln_age');
  const lnTc = b.op('Log', [col('totalCholesterol')], {}, 'ln_tc');
  const lnHdl = b.op('Log', [col('hdlCholesterol')], {}, 'ln_hdl');
  const lnSbp = b.op('Log', [col('systolicBp')], {}, 'ln_sbp');
  const treated = col('bpTreated');
  const smoker = col('currentSmoker');
  const diabetes = col('diabetes');

  const one = scalar(1, 'one');
  const untreated = b.op('Sub', [one, treated], {}, 'untreated');
  const lnTreatedSbp = b.op('Mul', [lnSbp, treated], {}, 'ln_treated_sbp');
  const lnUntreatedSbp = b.op('Mul', [lnSbp, untreated], {}, 'ln_untreated_sbp');
  const byAge = (x: string, name: string): string => b.op('Mul', [lnAge, x], {}, name);

  const termValues: Record<(typeof PCE_TERMS)[number], string> = {
    lnAge,
    lnAgeSquared: byAge(lnAge, 'ln_age_sq'),
    lnTotalCholesterol: lnTc,
    lnAgeXLnTotalCholesterol: byAge(lnTc, 'ln_age_x_ln_tc'),
    lnHdlCholesterol: lnHdl,
    lnAgeXLnHdlCholesterol: byAge(lnHdl, 'ln_age_x_ln_hdl'),
    lnTreatedSystolicBp: lnTreatedSbp,
    lnAgeXLnTreatedSystolicBp: byAge(lnTreatedSbp, 'ln_age_x_ln_treated_sbp'),
    lnUntreatedSystolicBp: lnUntreatedSbp,
    lnAgeXLnUntreatedSystolicBp: byAge(lnUntreatedSbp, 'ln_age_x_ln_untreated_sbp'),
    currentSmoker: smoker,
    lnAgeXCurrentSmoker: byAge(smoker, 'ln_age_x_smoker'),
    diabetes,
  };
  // [N, K] term matrix, columns in PCE_TERMS order.
  const terms = b.op(
    'Concat',
    PCE_TERMS.map((t) => termValues[t]),
    { axis: 1 },
    'terms',
  );

  // Group index = 2 × (1 − female) + africanAmerican, as int64 [N].
  const notFemale = b.op('Sub', [one, vec('female')], {}, 'not_female');
  const groupF = b.op(
    'Add',
    [b.op('Mul', [scalar(2, 'two'), notFemale]), vec('africanAmerican')],
    {},
    'group_f',
  );
  const group = b.op('Cast', [groupF], { to: onnx.TensorProto.DataType.INT64 }, 'group');

  // Per-group parameters, gathered by group index.
  const coefMatrix = b.constant(
    'float64',
    [PCE_EQUATIONS.length, PCE_TERMS.length],
    PCE_EQUATIONS.flatMap((e) => PCE_TERMS.map((t) => e.coefficients[t])),
    'coefficients',
  );
  const means = b.constant(
    'float64',
    [PCE_EQUATIONS.length, 1],
    PCE_EQUATIONS.map((e) => e.meanSum),
    'mean_sum',
  );
  const survival = b.constant(
    'float64',
    [PCE_EQUATIONS.length, 1],
    PCE_EQUATIONS.map((e) => e.baselineSurvival),
    'baseline_survival',
  );
  const beta = b.op('Gather', [coefMatrix, group], { axis: 0 }, 'beta'); // [N, K]
  const mean = b.op('Gather', [means, group], { axis: 0 }, 'mean'); // [N, 1]
  const s10 = b.op('Gather', [survival, group], { axis: 0 }, 's10'); // [N, 1]

  const sum = b.op(
    'ReduceSum',
    [b.op('Mul', [beta, terms], {}, 'beta_x'), b.constant('int64', [1], [1], 'axes_1')],
    { keepdims: 1 },
    'sum_beta_x',
  ); // [N, 1]
  const hazard = b.op('Exp', [b.op('Sub', [sum, mean], {}, 'centred')], {}, 'relative_hazard');
  const survivalN = b.op('Pow', [s10, hazard], {}, 'survival_10y');
  b.op('Sub', [one, survivalN], {}, 'risk');
  b.output('risk', 'float64', ['N', 1]);

  b.meta('model', '2013 ACC/AHA Pooled Cohort Equations: 10-year risk of a first hard ASCVD event');
  b.meta(
    'source',
    'Goff DC Jr, Lloyd-Jones DM, Bennett G, et al. 2013 ACC/AHA Guideline on the Assessment of ' +
      'Cardiovascular Risk. Circulation 2014;129(25 Suppl 2):S49-S73, Appendix 7, Table A.',
  );
  b.meta('input.features', PCE_FEATURES.join(','));
  b.meta('output.risk', 'fraction 0..1 = 1 - S10^exp(sum(beta*x) - mean), natural logs');
  b.meta(
    'validity',
    `age ${PCE_VALIDITY.age.min}-${PCE_VALIDITY.age.max} y; ` +
      `total cholesterol ${PCE_VALIDITY.totalCholesterol.min}-${PCE_VALIDITY.totalCholesterol.max} mg/dL; ` +
      `HDL-C ${PCE_VALIDITY.hdlCholesterol.min}-${PCE_VALIDITY.hdlCholesterol.max} mg/dL; ` +
      `systolic BP ${PCE_VALIDITY.systolicBp.min}-${PCE_VALIDITY.systolicBp.max} mm Hg; ` +
      'no clinical ASCVD; other races use the white equations',
  );
  return b.build();
}

if (require.main === module) {
  const bytes = buildPceModel();
  writeFileSync(PCE_MODEL_PATH, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  console.log(
    `wrote ${path.relative(process.cwd(), PCE_MODEL_PATH)} (${bytes.length} bytes) sha256 ${sha256}`,
  );
}

/**
 * Plain TypeScript implementation of the 2013 ACC/AHA Pooled Cohort Equations (Goff DC Jr et al.,
 * Circulation 2014;129(25 Suppl 2):S49–S73, Appendix 7, Table A), written term by term from the
 * publication and independent of the ONNX graph's term layout: the tests cross-check model.onnx with it.
 */
import { PCE_EQUATIONS, pceGroupIndex } from './pce-coefficients';

export interface PceInput {
  /** years */
  readonly age: number;
  /** mg/dL */
  readonly totalCholesterol: number;
  /** mg/dL */
  readonly hdlCholesterol: number;
  /** mm Hg */
  readonly systolicBp: number;
  /** on antihypertensive treatment */
  readonly bpTreated: boolean;
  readonly currentSmoker: boolean;
  readonly diabetes: boolean;
  readonly female: boolean;
  /** false for white and for every other race (they use the white equations) */
  readonly africanAmerican: boolean;
}

/** 10-year hard ASCVD risk as a fraction 0..1. Does not check the validity range. */
export function pooledCohortRisk(input: PceInput): number {
  const eq = PCE_EQUATIONS[pceGroupIndex(input.female, input.africanAmerican)];
  const c = eq.coefficients;
  const lnAge = Math.log(input.age);
  const lnTc = Math.log(input.totalCholesterol);
  const lnHdl = Math.log(input.hdlCholesterol);
  const lnSbp = Math.log(input.systolicBp);
  const smoker = input.currentSmoker ? 1 : 0;

  let sum =
    c.lnAge * lnAge +
    c.lnAgeSquared * lnAge * lnAge +
    c.lnTotalCholesterol * lnTc +
    c.lnAgeXLnTotalCholesterol * lnAge * lnTc +
    c.lnHdlCholesterol * lnHdl +
    c.lnAgeXLnHdlCholesterol * lnAge * lnHdl +
    c.currentSmoker * smoker +
    c.lnAgeXCurrentSmoker * lnAge * smoker +
    c.diabetes * (input.diabetes ? 1 : 0);
  sum += input.bpTreated
    ? c.lnTreatedSystolicBp * lnSbp + c.lnAgeXLnTreatedSystolicBp * lnAge * lnSbp
    : c.lnUntreatedSystolicBp * lnSbp + c.lnAgeXLnUntreatedSystolicBp * lnAge * lnSbp;

  return 1 - Math.pow(eq.baselineSurvival, Math.exp(sum - eq.meanSum));
}

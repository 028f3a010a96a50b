/**
 * 2013 ACC/AHA Pooled Cohort Equations (10-year risk of a first hard ASCVD event).
 *
 * Source: Goff DC Jr, Lloyd-Jones DM, Bennett G, et al. 2013 ACC/AHA Guideline on the Assessment of
 * Cardiovascular Risk: A Report of the American College of Cardiology/American Heart Association Task
 * Force on Practice Guidelines. Circulation 2014;129(25 Suppl 2):S49–S73, Appendix 7, Table A
 * ("Equation parameters of the Pooled Cohort Equations for estimation of 10-year risk of hard ASCVD").
 *
 * risk = 1 − S₁₀ ^ exp(Σβx − mean(Σβx)), natural logarithms throughout. Systolic blood pressure enters
 * either as "treated" or as "untreated" (the other term is 0). A term the publication leaves blank ("—")
 * for a group is 0 here.
 */

/** The four sex/race groups of Table A, in the order of the ONNX coefficient matrix rows. */
export type PceGroup = 'whiteWomen' | 'africanAmericanWomen' | 'whiteMen' | 'africanAmericanMen';

/** The β of each term of the sum Σβx. */
export interface PceCoefficients {
  /** ln Age (years) */
  readonly lnAge: number;
  /** (ln Age)² */
  readonly lnAgeSquared: number;
  /** ln total cholesterol (mg/dL) */
  readonly lnTotalCholesterol: number;
  /** ln Age × ln total cholesterol */
  readonly lnAgeXLnTotalCholesterol: number;
  /** ln HDL-C (mg/dL) */
  readonly lnHdlCholesterol: number;
  /** ln Age × ln HDL-C */
  readonly lnAgeXLnHdlCholesterol: number;
  /** ln treated systolic BP (mm Hg) */
  readonly lnTreatedSystolicBp: number;
  /** ln Age × ln treated systolic BP */
  readonly lnAgeXLnTreatedSystolicBp: number;
  /** ln untreated systolic BP (mm Hg) */
  readonly lnUntreatedSystolicBp: number;
  /** ln Age × ln untreated systolic BP */
  readonly lnAgeXLnUntreatedSystolicBp: number;
  /** current smoker (1/0) */
  readonly currentSmoker: number;
  /** ln Age × current smoker */
  readonly lnAgeXCurrentSmoker: number;
  /** diabetes (1/0) */
  readonly diabetes: number;
}

export interface PceEquation {
  readonly group: PceGroup;
  readonly label: string;
  readonly coefficients: PceCoefficients;
  /** Group mean of Σβx. */
  readonly meanSum: number;
  /** Baseline 10-year survival S₁₀. */
  readonly baselineSurvival: number;
}

export const WHITE_WOMEN: PceEquation = {
  group: 'whiteWomen',
  label: 'White women',
  coefficients: {
    lnAge: -29.799,
    lnAgeSquared: 4.884,
    lnTotalCholesterol: 13.54,
    lnAgeXLnTotalCholesterol: -3.114,
    lnHdlCholesterol: -13.578,
    lnAgeXLnHdlCholesterol: 3.149,
    lnTreatedSystolicBp: 2.019,
    lnAgeXLnTreatedSystolicBp: 0,
    lnUntreatedSystolicBp: 1.957,
    lnAgeXLnUntreatedSystolicBp: 0,
    currentSmoker: 7.574,
    lnAgeXCurrentSmoker: -1.665,
    diabetes: 0.661,
  },
  meanSum: -29.18,
  baselineSurvival: 0.9665,
};

export const AFRICAN_AMERICAN_WOMEN: PceEquation = {
  group: 'africanAmericanWomen',
  label: 'African-American women',
  coefficients: {
    lnAge: 17.114,
    lnAgeSquared: 0,
    lnTotalCholesterol: 0.94,
    lnAgeXLnTotalCholesterol: 0,
    lnHdlCholesterol: -18.92,
    lnAgeXLnHdlCholesterol: 4.475,
    lnTreatedSystolicBp: 29.291,
    lnAgeXLnTreatedSystolicBp: -6.432,
    lnUntreatedSystolicBp: 27.82,
    lnAgeXLnUntreatedSystolicBp: -6.087,
    currentSmoker: 0.691,
    lnAgeXCurrentSmoker: 0,
    diabetes: 0.874,
  },
  meanSum: 86.61,
  baselineSurvival: 0.9533,
};

export const WHITE_MEN: PceEquation = {
  group: 'whiteMen',
  label: 'White men',
  coefficients: {
    lnAge: 12.344,
    lnAgeSquared: 0,
    lnTotalCholesterol: 11.853,
    lnAgeXLnTotalCholesterol: -2.664,
    lnHdlCholesterol: -7.99,
    lnAgeXLnHdlCholesterol: 1.769,
    lnTreatedSystolicBp: 1.797,
    lnAgeXLnTreatedSystolicBp: 0,
    lnUntreatedSystolicBp: 1.764,
    lnAgeXLnUntreatedSystolicBp: 0,
    currentSmoker: 7.837,
    lnAgeXCurrentSmoker: -1.795,
    diabetes: 0.658,
  },
  meanSum: 61.18,
  baselineSurvival: 0.9144,
};

export const AFRICAN_AMERICAN_MEN: PceEquation = {
  group: 'africanAmericanMen',
  label: 'African-American men',
  coefficients: {
    lnAge: 2.469,
    lnAgeSquared: 0,
    lnTotalCholesterol: 0.302,
    lnAgeXLnTotalCholesterol: 0,
    lnHdlCholesterol: -0.307,
    lnAgeXLnHdlCholesterol: 0,
    lnTreatedSystolicBp: 1.916,
    lnAgeXLnTreatedSystolicBp: 0,
    lnUntreatedSystolicBp: 1.809,
    lnAgeXLnUntreatedSystolicBp: 0,
    currentSmoker: 0.549,
    lnAgeXCurrentSmoker: 0,
    diabetes: 0.645,
  },
  meanSum: 19.54,
  baselineSurvival: 0.8954,
};

/**
 * The equations by group index: index = 2 × (1 − female) + africanAmerican, so white women 0,
 * African-American women 1, white men 2, African-American men 3. People of other races use the white
 * equations (africanAmerican = 0).
 */
export const PCE_EQUATIONS: readonly PceEquation[] = [
  WHITE_WOMEN,
  AFRICAN_AMERICAN_WOMEN,
  WHITE_MEN,
  AFRICAN_AMERICAN_MEN,
];

export function pceGroupIndex(female: boolean, africanAmerican: boolean): number {
  return 2 * (female ? 0 : 1) + (africanAmerican ? 1 : 0);
}

/** The order of the terms (columns) of the ONNX graph's coefficient matrix and term matrix. */
export const PCE_TERMS: readonly (keyof PceCoefficients)[] = [
  'lnAge',
  'lnAgeSquared',
  'lnTotalCholesterol',
  'lnAgeXLnTotalCholesterol',
  'lnHdlCholesterol',
  'lnAgeXLnHdlCholesterol',
  'lnTreatedSystolicBp',
  'lnAgeXLnTreatedSystolicBp',
  'lnUntreatedSystolicBp',
  'lnAgeXLnUntreatedSystolicBp',
  'currentSmoker',
  'lnAgeXCurrentSmoker',
  'diabetes',
];

/** Columns of the model's `features` input, in order. */
export const PCE_FEATURES = [
  'age',
  'totalCholesterol',
  'hdlCholesterol',
  'systolicBp',
  'bpTreated',
  'currentSmoker',
  'diabetes',
  'female',
  'africanAmerican',
] as const;

export type PceFeature = (typeof PCE_FEATURES)[number];

/** Ranges (inclusive) within which the equations were derived and are valid (Goff 2014). */
export const PCE_VALIDITY = {
  age: { min: 40, max: 79, unit: 'a' },
  totalCholesterol: { min: 130, max: 320, unit: 'mg/dL' },
  hdlCholesterol: { min: 20, max: 100, unit: 'mg/dL' },
  systolicBp: { min: 90, max: 200, unit: 'mm[Hg]' },
} as const;

/**
 * IWPC pharmacogenetic warfarin dosing algorithm: the published coefficients.
 *
 * Source: International Warfarin Pharmacogenetics Consortium. Estimation of the Warfarin Dose with
 * Clinical and Pharmacogenetic Data. N Engl J Med 2009;360:753–764, Supplementary Appendix
 * (pharmacogenetic dosing algorithm).
 *
 *   √(weekly dose, mg) = 5.6044 − 0.2614·(age in decades) + 0.0087·height(cm) + 0.0128·weight(kg)
 *     − 0.8677·VKORC1 A/G − 1.6974·VKORC1 A/A − 0.4854·VKORC1 unknown
 *     − 0.5211·CYP2C9 *1/*2 − 0.9357·*1/*3 − 1.0616·*2/*2 − 1.9206·*2/*3 − 2.3312·*3/*3
 *     − 0.2188·CYP2C9 unknown − 0.1092·Asian − 0.2760·Black or African American
 *     − 0.1032·missing or mixed race + 1.1816·enzyme inducer − 0.5503·amiodarone
 *
 * Age in decades = floor(age / 10). Weekly dose = the square. Reference categories: VKORC1 G/G
 * (rs9923231), CYP2C9 *1/*1, White. This is the pharmacogenetic algorithm only; the same paper's
 * clinical (no-genotype) algorithm is a different model and is not used here.
 */

export const IWPC_CITATION =
  'International Warfarin Pharmacogenetics Consortium. Estimation of the Warfarin Dose with Clinical and ' +
  'Pharmacogenetic Data. N Engl J Med 2009;360:753-764, Supplementary Appendix (pharmacogenetic algorithm).';

export const IWPC_DOI = '10.1056/NEJMoa0809329';

/** VKORC1 rs9923231 (-1639G>A) genotype; the array index is the value of the `vkorc1` feature. */
export const VKORC1_GENOTYPES = ['G/G', 'A/G', 'A/A', 'unknown'] as const;
export type Vkorc1Genotype = (typeof VKORC1_GENOTYPES)[number];

/** CYP2C9 diplotype; the array index is the value of the `cyp2c9` feature. */
export const CYP2C9_GENOTYPES = ['*1/*1', '*1/*2', '*1/*3', '*2/*2', '*2/*3', '*3/*3', 'unknown'] as const;
export type Cyp2c9Genotype = (typeof CYP2C9_GENOTYPES)[number];

/** Race category as the IWPC model codes it; the array index is the value of the `race` feature. */
export const RACE_CATEGORIES = ['White', 'Asian', 'Black or African American', 'missing or mixed'] as const;
export type RaceCategory = (typeof RACE_CATEGORIES)[number];

/** Feature columns of the ONNX input `features` ([N, 8], float64), in order. */
export const IWPC_FEATURES = [
  'ageYears',
  'heightCm',
  'weightKg',
  'vkorc1',
  'cyp2c9',
  'race',
  'enzymeInducer',
  'amiodarone',
] as const;
export type IwpcFeature = (typeof IWPC_FEATURES)[number];

export interface IwpcCoefficients {
  /** Intercept of √(weekly dose, mg). */
  readonly intercept: number;
  /** Per decade of age, decades = floor(age in years / 10). */
  readonly ageDecades: number;
  /** Per cm of height. */
  readonly heightCm: number;
  /** Per kg of weight. */
  readonly weightKg: number;
  /** Indexed like {@link VKORC1_GENOTYPES}; 0 for the reference G/G. */
  readonly vkorc1: readonly [number, number, number, number];
  /** Indexed like {@link CYP2C9_GENOTYPES}; 0 for the reference *1/*1. */
  readonly cyp2c9: readonly [number, number, number, number, number, number, number];
  /** Indexed like {@link RACE_CATEGORIES}; 0 for the reference White. */
  readonly race: readonly [number, number, number, number];
  /** Carbamazepine, phenytoin, rifampin/rifampicin: 1 if any is taken. */
  readonly enzymeInducer: number;
  /** Amiodarone: 1 if taken. */
  readonly amiodarone: number;
}

export const IWPC_COEFFICIENTS: IwpcCoefficients = Object.freeze({
  intercept: 5.6044,
  ageDecades: -0.2614,
  heightCm: 0.0087,
  weightKg: 0.0128,
  // G/G, A/G, A/A, unknown
  vkorc1: [0, -0.8677, -1.6974, -0.4854],
  // *1/*1, *1/*2, *1/*3, *2/*2, *2/*3, *3/*3, unknown
  cyp2c9: [0, -0.5211, -0.9357, -1.0616, -1.9206, -2.3312, -0.2188],
  // White, Asian, Black or African American, missing or mixed
  race: [0, -0.1092, -0.276, -0.1032],
  enzymeInducer: 1.1816,
  amiodarone: -0.5503,
} as const);

/**
 * Plain TypeScript implementation of the IWPC pharmacogenetic warfarin dosing algorithm, used to
 * cross-check the ONNX graph built by build-model.ts. Same coefficients, same summation order.
 */
import { CYP2C9_GENOTYPES, IWPC_COEFFICIENTS, RACE_CATEGORIES, VKORC1_GENOTYPES } from './iwpc-coefficients';

export interface IwpcInput {
  /** Age in years; the algorithm uses floor(age / 10). */
  readonly ageYears: number;
  readonly heightCm: number;
  readonly weightKg: number;
  /** Index into VKORC1_GENOTYPES: 0 = G/G, 1 = A/G, 2 = A/A, 3 = unknown. */
  readonly vkorc1: number;
  /** Index into CYP2C9_GENOTYPES: 0 = *1/*1, 1 = *1/*2, 2 = *1/*3, 3 = *2/*2, 4 = *2/*3, 5 = *3/*3, 6 = unknown. */
  readonly cyp2c9: number;
  /** Index into RACE_CATEGORIES: 0 = White, 1 = Asian, 2 = Black or African American, 3 = missing or mixed. */
  readonly race: number;
  /** 1 if carbamazepine, phenytoin or rifampin/rifampicin is taken, else 0. */
  readonly enzymeInducer: number;
  /** 1 if amiodarone is taken, else 0. */
  readonly amiodarone: number;
}

function index(name: string, value: number, size: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= size) {
    throw new RangeError(`${name} must be an integer in [0, ${size - 1}], got ${value}`);
  }
  return value;
}

/** √(weekly dose, mg): the linear predictor. */
export function iwpcSqrtWeeklyDose(input: IwpcInput): number {
  const c = IWPC_COEFFICIENTS;
  const terms = [
    c.ageDecades * Math.floor(input.ageYears / 10),
    c.heightCm * input.heightCm,
    c.weightKg * input.weightKg,
    c.vkorc1[index('vkorc1', input.vkorc1, VKORC1_GENOTYPES.length)],
    c.cyp2c9[index('cyp2c9', input.cyp2c9, CYP2C9_GENOTYPES.length)],
    c.race[index('race', input.race, RACE_CATEGORIES.length)],
    index('enzymeInducer', input.enzymeInducer, 2) === 1 ? c.enzymeInducer : 0,
    index('amiodarone', input.amiodarone, 2) === 1 ? c.amiodarone : 0,
  ];
  let sum = c.intercept;
  for (const term of terms) sum += term;
  return sum;
}

/** Predicted stable weekly warfarin dose, mg/week. */
export function iwpcWeeklyDose(input: IwpcInput): number {
  const root = iwpcSqrtWeeklyDose(input);
  return root * root;
}

/** Predicted stable daily warfarin dose, mg/day (weekly / 7). */
export function iwpcDailyDose(input: IwpcInput): number {
  return iwpcWeeklyDose(input) / 7;
}

/** The row of the ONNX `features` input for this patient, in IWPC_FEATURES order. */
export function iwpcFeatureRow(input: IwpcInput): number[] {
  return [
    input.ageYears,
    input.heightCm,
    input.weightKg,
    input.vkorc1,
    input.cyp2c9,
    input.race,
    input.enzymeInducer,
    input.amiodarone,
  ];
}

/** The reference plugins' models with rows they accept, for `bench:inference` and `gpu:check`. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Value ranges of each model's columns, so every generated row is one the model accepts. */
const COLUMNS: Record<string, Array<[min: number, max: number]>> = {
  // age, total cholesterol, HDL, systolic BP, then five yes/no flags
  'prognosis-ascvd-pce': [
    [40, 79],
    [130, 320],
    [20, 100],
    [90, 200],
    [0, 1],
    [0, 1],
    [0, 1],
    [0, 1],
    [0, 1],
  ],
  // age, height, weight, VKORC1 (0–3), CYP2C9 (0–6), race (0–3), inducer, amiodarone
  'treatment-warfarin-iwpc': [
    [20, 90],
    [150, 190],
    [50, 120],
    [0, 3],
    [0, 6],
    [0, 3],
    [0, 1],
    [0, 1],
  ],
  // thirty cytology measurements
  'diagnosis-breast-fna-wdbc': Array.from({ length: 30 }, (): [number, number] => [0, 30]),
};

export interface Model {
  name: string;
  bytes: Uint8Array;
  rows: number[][];
}

export function referenceModels(): Model[] {
  const root = join(__dirname, '..', 'plugins');
  return Object.entries(COLUMNS).map(([name, columns]) => ({
    name,
    bytes: readFileSync(join(root, name, 'model.onnx')),
    rows: makeRows(columns, 256),
  }));
}

/** Deterministic rows: integers for the categorical columns (max ≤ 6), decimals for the others. */
function makeRows(columns: Array<[number, number]>, count: number): number[][] {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, () =>
    columns.map(([min, max]) =>
      max <= 6 ? Math.floor(random() * (max - min + 1)) + min : min + random() * (max - min),
    ),
  );
}

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FEATURE_COUNT } from './features';

/** The plugin's own copy of the data file (see `../data/README.md`). */
export const WDBC_CSV_PATH = path.join(__dirname, '..', 'data', 'wdbc.csv');

/** sha256 of `data/wdbc.csv`, as published in `data/README.md`. */
export const WDBC_CSV_SHA256 = 'fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed';

export const WDBC_CITATION =
  'Wolberg WH, Street WN, Mangasarian OL. Breast Cancer Wisconsin (Diagnostic). UCI Machine Learning ' +
  'Repository, November 1995. https://doi.org/10.24432/C5DW2B. Licence CC BY 4.0.';

export interface WdbcDataset {
  /** One row of 30 raw feature values per case, in the csv's (= {@link FEATURE_CODES}) order. */
  features: number[][];
  /** The csv's target: 0 = malignant, 1 = benign. */
  target: number[];
  /** The label we model: 1 = malignant (target 0), 0 = benign (target 1). */
  y: number[];
}

export interface WdbcSubset {
  /** 0-based data-row indices (the header line is not a data row). */
  index: number[];
  features: number[][];
  y: number[];
}

export interface WdbcSplit {
  train: WdbcSubset;
  heldOut: WdbcSubset;
}

/** Parses the WDBC csv: a header `569,30,malignant,benign`, then rows of 30 features and a target. */
export function parseWdbcCsv(text: string): WdbcDataset {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new Error('wdbc.csv: empty file');
  const header = lines[0].split(',').map((field) => field.trim());
  const rows = Number(header[0]);
  const columns = Number(header[1]);
  if (header.length !== 4 || !Number.isInteger(rows) || columns !== FEATURE_COUNT) {
    throw new Error(`wdbc.csv: unexpected header "${lines[0]}"`);
  }
  if (header[2] !== 'malignant' || header[3] !== 'benign') {
    throw new Error(`wdbc.csv: expected class names malignant,benign, got "${lines[0]}"`);
  }
  if (lines.length - 1 !== rows) {
    throw new Error(`wdbc.csv: header says ${rows} rows, found ${lines.length - 1}`);
  }

  const features: number[][] = [];
  const target: number[] = [];
  const y: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i].split(',');
    if (fields.length !== FEATURE_COUNT + 1) {
      throw new Error(`wdbc.csv line ${i + 1}: expected ${FEATURE_COUNT + 1} fields, got ${fields.length}`);
    }
    const values = fields.map((field) => {
      const value = Number(field);
      if (field.trim() === '' || !Number.isFinite(value)) {
        throw new Error(`wdbc.csv line ${i + 1}: not a number: "${field}"`);
      }
      return value;
    });
    const t = values[FEATURE_COUNT];
    if (t !== 0 && t !== 1) throw new Error(`wdbc.csv line ${i + 1}: target must be 0 or 1, got ${t}`);
    features.push(values.slice(0, FEATURE_COUNT));
    target.push(t);
    y.push(t === 0 ? 1 : 0);
  }
  return { features, target, y };
}

export function loadWdbc(csvPath: string = WDBC_CSV_PATH): WdbcDataset {
  return parseWdbcCsv(readFileSync(csvPath, 'utf8'));
}

/** True for the held-out rows: 0-based data-row index % 5 == 0. */
export function isHeldOut(index: number): boolean {
  return index % 5 === 0;
}

/** The deterministic split: rows with index % 5 == 0 are held out, the rest train. */
export function splitWdbc(data: WdbcDataset): WdbcSplit {
  const train: WdbcSubset = { index: [], features: [], y: [] };
  const heldOut: WdbcSubset = { index: [], features: [], y: [] };
  data.features.forEach((row, i) => {
    const subset = isHeldOut(i) ? heldOut : train;
    subset.index.push(i);
    subset.features.push(row);
    subset.y.push(data.y[i]);
  });
  return { train, heldOut };
}

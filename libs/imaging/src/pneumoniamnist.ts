import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { unzipSync } from 'fflate';

/** Where the PneumoniaMNIST training and validation splits live on every development machine and in CI. */
export const PNEUMONIAMNIST_PATH = process.env.PNEUMONIAMNIST_NPZ ?? sharedDataPath();

/** `../shared/data/…` beside the repository, from the sources or from the build in dist/. */
function sharedDataPath(): string {
  const file = 'shared/data/pneumoniamnist/pneumoniamnist-train-val.npz';
  const candidates = ['../../../..', '../../../../..'].map((up) => resolve(__dirname, up, file));
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[0];
}

/** Said wherever the data set is needed but absent (a user's own clone). */
export const PNEUMONIAMNIST_MISSING =
  `PneumoniaMNIST is not at ${PNEUMONIAMNIST_PATH}. It is part of MedMNIST v2 (Yang et al., Scientific Data 10, 41, 2023; CC BY 4.0), ` +
  'published at https://medmnist.com and https://doi.org/10.5281/zenodo.10519652: save its train and val splits as ' +
  'pneumoniamnist-train-val.npz there (or set PNEUMONIAMNIST_NPZ).';

export type Split = 'train' | 'val';

/** One data-set image: 28 × 28 grey levels 0–255, and its label (0 normal, 1 pneumonia). */
export interface DatasetImage {
  pixels: Uint8Array;
  rows: number;
  columns: number;
  label: 0 | 1;
}

export function pneumoniaMnistAvailable(path = PNEUMONIAMNIST_PATH): boolean {
  return existsSync(path);
}

const cache = new Map<string, Record<string, { shape: number[]; data: Uint8Array }>>();

/**
 * An image of the PneumoniaMNIST `train` or `val` split, by index. Tests, golden cases and the demo
 * refer to images this way and wrap them as DICOM at run time: no image of the data set is ever
 * part of the repository.
 */
export function pneumoniaMnistImage(split: Split, index: number, path = PNEUMONIAMNIST_PATH): DatasetImage {
  const arrays = load(path);
  const images = arrays[`${split}_images`];
  const labels = arrays[`${split}_labels`];
  const [count, rows, columns] = images.shape;
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(`PneumoniaMNIST ${split} has images 0 to ${count - 1}, not ${index}`);
  }
  const size = rows * columns;
  return {
    pixels: images.data.slice(index * size, (index + 1) * size),
    rows,
    columns,
    label: labels.data[index] === 1 ? 1 : 0,
  };
}

/** A whole split: `count` images of `rows` × `columns` grey levels one after another, and their labels. */
export interface DatasetSplit {
  split: Split;
  count: number;
  rows: number;
  columns: number;
  pixels: Uint8Array;
  /** 0 = normal, 1 = pneumonia. */
  labels: Uint8Array;
}

/** A whole split at once, for training and validation (read once per file, then cached). */
export function pneumoniaMnistSplit(split: Split, path = PNEUMONIAMNIST_PATH): DatasetSplit {
  const arrays = load(path);
  const images = arrays[`${split}_images`];
  const labels = arrays[`${split}_labels`];
  const [count, rows, columns] = images.shape;
  if (labels.data.length !== count) {
    throw new Error(`PneumoniaMNIST ${split}: ${labels.data.length} labels for ${count} images`);
  }
  return { split, count, rows, columns, pixels: images.data, labels: labels.data };
}

/** How many images a split holds. */
export function pneumoniaMnistCount(split: Split, path = PNEUMONIAMNIST_PATH): number {
  return load(path)[`${split}_images`].shape[0];
}

function load(path: string) {
  const found = cache.get(path);
  if (found) return found;
  if (!existsSync(path)) throw new Error(PNEUMONIAMNIST_MISSING);
  const files = unzipSync(readFileSync(path));
  const arrays = Object.fromEntries(
    Object.entries(files).map(([name, bytes]) => [
      name.replace(/\.npy$/, ''),
      readNpy(bytes, join(path, name)),
    ]),
  );
  cache.set(path, arrays);
  return arrays;
}

/** A NumPy `.npy` array of unsigned bytes (format version 1 or 2, C order). */
function readNpy(bytes: Uint8Array, where: string): { shape: number[]; data: Uint8Array } {
  const magic = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (magic !== '\x93NUMPY') throw new Error(`${where} is not a .npy array`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = Buffer.from(bytes.subarray(headerStart, headerStart + headerLength)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map(Number);
  if (descr !== '|u1' || fortran) throw new Error(`${where}: expected C-ordered uint8, got ${descr}`);
  return { shape, data: bytes.subarray(headerStart + headerLength) };
}

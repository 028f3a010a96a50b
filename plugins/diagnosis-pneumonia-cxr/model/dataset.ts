/**
 * The PneumoniaMNIST training and validation splits, read from the shared data folder (the data set
 * is not ours to commit). Images are referred to by split and index; nothing of the data set is
 * written into the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import { parse as parseNpy } from 'npyjs';

export const IMAGE_SIZE = 28;
const IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/** `../shared/data/pneumoniamnist/` beside the repository (every development machine and CI). */
export const PNEUMONIAMNIST_DIR =
  process.env.AEGLE_PNEUMONIAMNIST_DIR ??
  path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'data', 'pneumoniamnist');

export const PNEUMONIAMNIST_FILE = path.join(PNEUMONIAMNIST_DIR, 'pneumoniamnist-train-val.npz');

export const PNEUMONIAMNIST_CITATION =
  'Yang J, Shi R, Wei D, et al. MedMNIST v2 — A large-scale lightweight benchmark for 2D and 3D ' +
  'biomedical image classification. Scientific Data 10, 41 (2023). https://doi.org/10.1038/s41597-022-01721-8. ' +
  'Licence CC BY 4.0. Derived from Kermany DS, Goldbaum M, et al. Identifying Medical Diagnoses and ' +
  'Treatable Diseases by Image-Based Deep Learning. Cell 172(5), 2018. Licence CC BY 4.0.';

/** What training, the imaging tests and the demo say when the data set is not there. */
export const PNEUMONIAMNIST_ABSENT =
  `PneumoniaMNIST is not at ${PNEUMONIAMNIST_FILE}. It is published with MedMNIST v2 ` +
  '(https://medmnist.com; Yang et al., Scientific Data 10, 41 (2023), https://doi.org/10.1038/s41597-022-01721-8, ' +
  'CC BY 4.0): save its official train and val splits as a NumPy .npz with arrays train_images, ' +
  'train_labels, val_images, val_labels (uint8, 28 × 28) at that path, or point AEGLE_PNEUMONIAMNIST_DIR ' +
  'at the folder that holds it.';

export type PneumoniaMnistSplit = 'train' | 'val';

export interface PneumoniaMnistImages {
  split: PneumoniaMnistSplit;
  count: number;
  /** count × 28 × 28 grey levels 0–255, row-major, one image after another. */
  pixels: Uint8Array;
  /** 0 = normal, 1 = pneumonia. */
  labels: Uint8Array;
}

export function pneumoniaMnistPresent(): boolean {
  return existsSync(PNEUMONIAMNIST_FILE);
}

/** Reads one split from the .npz (a zip of .npy arrays, stored or deflated). */
export function loadPneumoniaMnist(
  split: PneumoniaMnistSplit,
  file = PNEUMONIAMNIST_FILE,
): PneumoniaMnistImages {
  if (!existsSync(file)) throw new Error(PNEUMONIAMNIST_ABSENT);
  const arrays = unzipSync(new Uint8Array(readFileSync(file)), {
    filter: (entry) => entry.name === `${split}_images.npy` || entry.name === `${split}_labels.npy`,
  });
  const images = uint8Array(arrays, `${split}_images.npy`);
  const labels = uint8Array(arrays, `${split}_labels.npy`);
  const count = images.shape[0];
  if (images.shape.length !== 3 || images.shape[1] !== IMAGE_SIZE || images.shape[2] !== IMAGE_SIZE) {
    throw new Error(`${split}_images.npy: shape [${images.shape.join(', ')}], expected [N, 28, 28]`);
  }
  if (labels.data.length !== count) {
    throw new Error(`${split}_labels.npy: ${labels.data.length} labels for ${count} images`);
  }
  if (labels.data.some((label) => label > 1)) throw new Error(`${split}_labels.npy: labels must be 0 or 1`);
  return { split, count, pixels: images.data, labels: labels.data };
}

/** One image's 784 grey levels (a view, not a copy). */
export function imagePixels(images: PneumoniaMnistImages, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= images.count) {
    throw new Error(`${images.split} has no image ${index} (0 to ${images.count - 1})`);
  }
  return images.pixels.subarray(index * IMAGE_PIXELS, (index + 1) * IMAGE_PIXELS);
}

function uint8Array(arrays: Record<string, Uint8Array>, name: string): { data: Uint8Array; shape: number[] } {
  const bytes = arrays[name];
  if (!bytes) throw new Error(`${PNEUMONIAMNIST_FILE}: no ${name}`);
  // npyjs reads from the buffer's start: give it an ArrayBuffer of exactly this entry.
  const npy = parseNpy(bytes.slice().buffer);
  if (npy.dtype !== 'u1' || npy.fortranOrder) {
    throw new Error(
      `${name}: dtype ${npy.dtype}${npy.fortranOrder ? ' (Fortran order)' : ''}, expected C-order uint8`,
    );
  }
  return { data: npy.data as Uint8Array, shape: npy.shape };
}

/**
 * The PneumoniaMNIST training and validation splits for training and validating the model, read
 * through the imaging library's reader from the shared data folder (the data set is not ours to
 * commit). Images are referred to by split and index; nothing of the data set is written into the
 * repository.
 */
import {
  PNEUMONIAMNIST_MISSING,
  PNEUMONIAMNIST_PATH,
  pneumoniaMnistAvailable,
  pneumoniaMnistSplit,
} from '@aegle/imaging';

export const IMAGE_SIZE = 28;
const IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE;

export const PNEUMONIAMNIST_FILE = PNEUMONIAMNIST_PATH;

/** What training, the imaging tests and the demo say when the data set is not there. */
export const PNEUMONIAMNIST_ABSENT = PNEUMONIAMNIST_MISSING;

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
  return pneumoniaMnistAvailable();
}

/** One split, checked to be what the model was trained on: 28 × 28 images labelled 0 or 1. */
export function loadPneumoniaMnist(
  split: PneumoniaMnistSplit,
  file = PNEUMONIAMNIST_FILE,
): PneumoniaMnistImages {
  const { count, rows, columns, pixels, labels } = pneumoniaMnistSplit(split, file);
  if (rows !== IMAGE_SIZE || columns !== IMAGE_SIZE) {
    throw new Error(`${split}_images.npy: images of ${rows} × ${columns}, expected 28 × 28`);
  }
  if (labels.some((label) => label > 1)) throw new Error(`${split}_labels.npy: labels must be 0 or 1`);
  return { split, count, pixels, labels };
}

/** One image's 784 grey levels (a view, not a copy). */
export function imagePixels(images: PneumoniaMnistImages, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= images.count) {
    throw new Error(`${images.split} has no image ${index} (0 to ${images.count - 1})`);
  }
  return images.pixels.subarray(index * IMAGE_PIXELS, (index + 1) * IMAGE_PIXELS);
}

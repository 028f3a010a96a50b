/**
 * Every model `bench:inference` and `gpu:check` measure: the reference plugins' tabular models, the
 * pneumonia chest X-ray CNN, and a compute-bound ResNet-50, each with requests it accepts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { RowInputs } from '@aegle/inference';
import { RESNET50_INPUT, RESNET50_NAME, resnet50Bytes } from './compute-bound-model';
import { referenceModels } from './reference-models';

export interface BenchModel {
  name: string;
  bytes: Uint8Array;
  /** The one input tensor: its name, type and the dimensions after the batch one. */
  input: { name: string; type: 'float32' | 'float64'; dims: number[] };
  /** One request's values each, flattened. */
  rows: Array<ArrayLike<number>>;
  /**
   * A run takes milliseconds, not microseconds: measure by whole runs and skip the per-step
   * breakdown, which only matters where a run is as cheap as Aegle's own steps.
   */
  heavy: boolean;
  /** Floor of Aegle's rate over raw batched onnxruntime at 64 concurrent requests. */
  floorAt64: number;
  /** Largest relative difference allowed between CUDA's and the CPU's outputs (gpu:check). */
  tolerance: number;
}

/** The one input of `rows` as a batch. */
export function feedsOf(
  model: BenchModel,
  rows: ReadonlyArray<ArrayLike<number>>,
): Record<string, ort.Tensor> {
  const size = model.input.dims.reduce((a, b) => a * b, 1);
  const data =
    model.input.type === 'float32'
      ? new Float32Array(rows.length * size)
      : new Float64Array(rows.length * size);
  rows.forEach((row, i) => data.set(row, i * size));
  return { [model.input.name]: new ort.Tensor(model.input.type, data, [rows.length, ...model.input.dims]) };
}

export function requestOf(model: BenchModel, row: ArrayLike<number>): RowInputs {
  return { [model.input.name]: row };
}

const CNN_NAME = 'diagnosis-pneumonia-cxr';

/** Deterministic grey images (levels 0–255): a convolution's cost does not depend on the pixels. */
function greyImages(count: number, pixels: number): Float32Array[] {
  let seed = 7;
  return Array.from({ length: count }, () =>
    new Float32Array(pixels).map(() => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * 256);
    }),
  );
}

/** The models named in `only` (all by default); the ResNet-50 is built only when wanted. */
export function benchModels(only?: readonly string[]): BenchModel[] {
  const wanted = (name: string) => !only || only.includes(name);
  const tabular = referenceModels().map((m): BenchModel => ({
    name: m.name,
    bytes: m.bytes,
    input: { name: 'features', type: 'float64', dims: [m.rows[0].length] },
    rows: m.rows,
    heavy: false,
    floorAt64: 0.8,
    tolerance: 1e-6,
  }));
  const cnn = (): BenchModel => ({
    name: CNN_NAME,
    bytes: readFileSync(
      join(__dirname, '..', 'plugins', 'diagnosis-pneumonia-cxr', 'model', 'pneumonia-cxr-cnn.onnx'),
    ),
    input: { name: 'image', type: 'float32', dims: [1, 28, 28] },
    rows: greyImages(256, 28 * 28),
    heavy: false,
    floorAt64: 0.8,
    tolerance: 1e-4,
  });
  const resnet = (): BenchModel => ({
    name: RESNET50_NAME,
    bytes: resnet50Bytes(),
    input: { name: 'image', type: 'float32', dims: RESNET50_INPUT },
    rows: greyImages(
      64,
      RESNET50_INPUT.reduce((a, b) => a * b, 1),
    ),
    heavy: true,
    floorAt64: 0.9,
    // float32 through 50 layers, and CUDA may use TF32 for convolutions.
    tolerance: 1e-2,
  });
  return [
    ...tabular.filter((m) => wanted(m.name)),
    ...(wanted(CNN_NAME) ? [cnn()] : []),
    ...(wanted(RESNET50_NAME) ? [resnet()] : []),
  ];
}

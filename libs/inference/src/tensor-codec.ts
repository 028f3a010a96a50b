import * as ort from 'onnxruntime-node';
import { UnsupportedModelError } from './errors';

/** Element types Aegle feeds and reads; the reference models use float64. */
export type ElementType = 'float32' | 'float64' | 'int32' | 'int64';

/** A tensor as the model itself declares it. */
export interface TensorMetadata {
  name: string;
  type: string;
  shape: Array<number | string>;
}

/**
 * One request: for each input tensor, the numbers of one row (the batch dimension left out).
 * NaN passes through untouched, for models that read it as "missing".
 */
export type RowInputs = Record<string, ArrayLike<number>>;
/** One request's share of each output tensor. */
export type RowOutputs = Record<string, number[]>;

type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array;
/** One reusable typed array per model input, in input order. */
export type FeedBuffers = TypedData[];

const ALLOCATE: Record<ElementType, (n: number) => TypedData> = {
  float32: (n) => new Float32Array(n),
  float64: (n) => new Float64Array(n),
  int32: (n) => new Int32Array(n),
  int64: (n) => new BigInt64Array(n),
};

interface InputPlan {
  name: string;
  type: ElementType;
  /** Numbers per request. */
  rowSize: number;
  /** Dimensions after the batch one (batchable) or all of them (not batchable). */
  fixedDims: number[];
  integer: boolean;
}

/** Numbers per row from which `TypedArray.set` copies a row faster than an element loop. */
const WIDE_ROW = 16;

const isDynamic = (d: number | string | undefined) => typeof d === 'string' || d === -1;

/**
 * Packs requests into input tensors and splits output tensors back, from the model's own
 * metadata. This is the hot path of every run: with reused buffers (`allocate`) it allocates
 * nothing per number, and a full batch no input memory nor tensor at all.
 */
export class TensorCodec {
  /** True when every input and output has a dynamic first dimension, so requests can share a run. */
  readonly batchable: boolean;
  private readonly inputs: InputPlan[];
  private readonly outputNames: string[];
  /** The feeds of a full batch, per set of buffers. */
  private readonly fullFeeds = new WeakMap<FeedBuffers, Record<string, ort.Tensor>>();

  constructor(model: string, inputs: TensorMetadata[], outputs: TensorMetadata[]) {
    this.batchable = [...inputs, ...outputs].every((t) => isDynamic(t.shape[0]));
    this.inputs = inputs.map((tensor) => plan(model, tensor, this.batchable));
    this.outputNames = outputs.map((t) => t.name);
  }

  /** Why this row cannot run, or undefined. Checked per request so a bad row never reaches a batch. */
  check(row: RowInputs): string | undefined {
    for (const input of this.inputs) {
      const values = row[input.name];
      if (!values || values.length !== input.rowSize) {
        return `input "${input.name}" needs ${input.rowSize} values, got ${values ? values.length : 'none'}`;
      }
      if (input.integer) {
        for (let j = 0; j < values.length; j++) {
          if (!Number.isSafeInteger(values[j])) return `input "${input.name}"[${j}] must be an integer`;
        }
      }
    }
    return undefined;
  }

  /** A row of zeros, for the warm-up run. */
  zeroRow(): RowInputs {
    return Object.fromEntries(this.inputs.map((i) => [i.name, new Array<number>(i.rowSize).fill(0)]));
  }

  /** Input buffers for batches of up to `capacity` rows; reused run after run. */
  allocate(capacity: number): FeedBuffers {
    return this.inputs.map((input) => ALLOCATE[input.type](capacity * input.rowSize));
  }

  /**
   * Copies the rows into `buffers` (from `allocate`) and returns the feeds, which view those
   * buffers: they must not be reused until the run that reads them has finished. A full batch
   * gets the same feeds object every time (its tensors view the whole buffers), so the busy case
   * builds no tensor.
   */
  pack(
    rows: readonly RowInputs[],
    buffers: FeedBuffers = this.allocate(rows.length),
  ): Record<string, ort.Tensor> {
    const n = rows.length;
    for (let i = 0; i < this.inputs.length; i++) {
      const { name, rowSize } = this.inputs[i];
      const buffer = buffers[i];
      if (buffer instanceof BigInt64Array) {
        for (let r = 0; r < n; r++) {
          const values = rows[r][name];
          for (let j = 0; j < rowSize; j++) buffer[r * rowSize + j] = BigInt(values[j]);
        }
      } else if (rowSize >= WIDE_ROW) {
        // One native copy per row beats an element loop once rows are this long (WDBC's 30 values).
        for (let r = 0; r < n; r++) buffer.set(rows[r][name], r * rowSize);
      } else {
        for (let r = 0; r < n; r++) {
          const values = rows[r][name];
          const offset = r * rowSize;
          for (let j = 0; j < rowSize; j++) buffer[offset + j] = values[j];
        }
      }
    }
    if (this.inputs.length === 0 || buffers[0].length !== n * this.inputs[0].rowSize) {
      return this.feeds(buffers, n);
    }
    let full = this.fullFeeds.get(buffers);
    if (!full) this.fullFeeds.set(buffers, (full = this.feeds(buffers, n)));
    return full;
  }

  /** Each row's share of the outputs, wrapped by `answer` (so the caller allocates nothing more per row). */
  split<A>(
    results: ort.InferenceSession.OnnxValueMapType,
    n: number,
    answer: (outputs: RowOutputs) => A,
  ): A[] {
    const names = this.outputNames;
    const data: Array<ArrayLike<number | bigint>> = new Array(names.length);
    const sizes: number[] = new Array(names.length);
    for (let k = 0; k < names.length; k++) {
      data[k] = results[names[k]].data as ArrayLike<number | bigint>;
      sizes[k] = data[k].length / n;
      if (!Number.isInteger(sizes[k])) {
        throw new Error(`output "${names[k]}" has ${data[k].length} values, not a multiple of the ${n} rows`);
      }
    }
    // Row by row, so each row's object takes its properties in one go and no list of rows is kept.
    const answers: A[] = new Array(n);
    for (let r = 0; r < n; r++) {
      const outputs: RowOutputs = {};
      for (let k = 0; k < names.length; k++) {
        const size = sizes[k];
        const values = data[k];
        if (size === 1) {
          outputs[names[k]] = [Number(values[r])];
        } else {
          const row = new Array<number>(size);
          for (let j = 0; j < size; j++) row[j] = Number(values[r * size + j]);
          outputs[names[k]] = row;
        }
      }
      answers[r] = answer(outputs);
    }
    return answers;
  }

  private feeds(buffers: FeedBuffers, n: number): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.inputs.length; i++) {
      const { name, type, rowSize, fixedDims } = this.inputs[i];
      const buffer = buffers[i];
      const data = buffer.length === n * rowSize ? buffer : buffer.subarray(0, n * rowSize);
      feeds[name] = new ort.Tensor(type, data, this.batchable ? [n, ...fixedDims] : fixedDims);
    }
    return feeds;
  }
}

function plan(model: string, tensor: TensorMetadata, batchable: boolean): InputPlan {
  if (!(tensor.type in ALLOCATE)) {
    throw new UnsupportedModelError(
      `${model}: input "${tensor.name}" is ${tensor.type}; Aegle feeds ${Object.keys(ALLOCATE).join(', ')}`,
    );
  }
  const fixedDims = (batchable ? tensor.shape.slice(1) : tensor.shape).map((d, i) => {
    if (typeof d === 'number' && d > 0) return d;
    // A model that cannot batch still gets one request at a time through a dynamic first dimension.
    if (!batchable && i === 0) return 1;
    const position = batchable ? i + 1 : i;
    throw new UnsupportedModelError(
      `${model}: dimension ${position} of input "${tensor.name}" is dynamic (${d}); ` +
        'only the first (batch) dimension may be, since every request is a fixed-size row',
    );
  });
  return {
    name: tensor.name,
    type: tensor.type as ElementType,
    rowSize: fixedDims.reduce((a, b) => a * b, 1),
    fixedDims,
    integer: tensor.type === 'int32' || tensor.type === 'int64',
  };
}

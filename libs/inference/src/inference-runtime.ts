import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import * as ort from 'onnxruntime-node';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { inferenceBatchSize, inferenceSeconds } from '@aegle/telemetry';
import { BatchOptions, MicroBatcher } from './micro-batcher';

export type ExecutionNeed = 'cpu' | 'prefer-gpu' | 'require-gpu';
export type ExecutionProvider = 'cuda' | 'cpu';
export type ElementType = 'float32' | 'float64' | 'int64';

/** A tensor as the model itself declares it. */
export interface TensorMetadata {
  name: string;
  type: string;
  shape: Array<number | string>;
}

export interface LoadOptions {
  execution: ExecutionNeed;
  batching?: Partial<BatchOptions>;
}

/** One request: for each input tensor, the numbers of one row (the batch dimension left out). */
export type RowInputs = Record<string, number[]>;
export type RowOutputs = Record<string, number[]>;

export interface RunResult {
  outputs: RowOutputs;
  provider: ExecutionProvider;
}

export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

interface LoadedModel {
  key: string;
  session: ort.InferenceSession;
  provider: ExecutionProvider;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  batcher: MicroBatcher<RowInputs, RowOutputs>;
}

const TYPED: Record<ElementType, (n: number) => Float32Array | Float64Array | BigInt64Array> = {
  float32: (n) => new Float32Array(n),
  float64: (n) => new Float64Array(n),
  int64: (n) => new BigInt64Array(n),
};

/** Rows are batchable when the first dimension is symbolic (or -1). */
function isBatchable(tensors: TensorMetadata[]): boolean {
  return tensors.every((t) => typeof t.shape[0] === 'string' || t.shape[0] === -1);
}

function rowSize(tensor: TensorMetadata): number {
  return tensor.shape.slice(1).reduce<number>((n, d) => n * (typeof d === 'number' && d > 0 ? d : 1), 1);
}

/**
 * Owns the ONNX sessions: one per model version, on the execution provider its policy allows,
 * with concurrent single-row requests micro-batched into one `session.run`.
 */
@Injectable()
export class InferenceRuntime implements OnModuleDestroy {
  private readonly logger = new Logger(InferenceRuntime.name);
  private readonly models = new Map<string, LoadedModel>();

  constructor(@Inject(AEGLE_CONFIG) private readonly config: AegleConfig) {}

  /** Loads a model under a key (plugin id@version), runs a warm-up, and returns its own tensor metadata. */
  async load(
    key: string,
    bytes: Uint8Array,
    options: LoadOptions,
  ): Promise<{ inputs: TensorMetadata[]; outputs: TensorMetadata[]; provider: ExecutionProvider }> {
    const { session, provider } = await this.createSession(key, bytes, options.execution);
    const inputs = session.inputMetadata.map(toMetadata);
    const outputs = session.outputMetadata.map(toMetadata);
    const batchable = isBatchable([...inputs, ...outputs]);
    const batching: BatchOptions = {
      maxBatchSize: batchable ? (options.batching?.maxBatchSize ?? 64) : 1,
      maxDelayMs: options.batching?.maxDelayMs ?? 0,
    };
    const model: LoadedModel = {
      key,
      session,
      provider,
      inputs,
      outputs,
      batcher: new MicroBatcher(batching, (rows) => this.runBatch(model, rows)),
    };
    await this.runBatch(model, [
      Object.fromEntries(inputs.map((t) => [t.name, new Array(rowSize(t)).fill(0)])),
    ]);
    const previous = this.models.get(key);
    this.models.set(key, model);
    if (previous) await previous.session.release();
    return { inputs, outputs, provider };
  }

  async run(key: string, row: RowInputs): Promise<RunResult> {
    const model = this.models.get(key);
    if (!model) throw new Error(`model ${key} is not loaded`);
    const outputs = await model.batcher.submit(row);
    return { outputs, provider: model.provider };
  }

  async unload(key: string): Promise<void> {
    const model = this.models.get(key);
    this.models.delete(key);
    await model?.session.release();
  }

  loaded(): Array<{ key: string; provider: ExecutionProvider }> {
    return [...this.models].map(([key, m]) => ({ key, provider: m.provider }));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.models.keys()].map((key) => this.unload(key)));
  }

  private async createSession(
    key: string,
    bytes: Uint8Array,
    need: ExecutionNeed,
  ): Promise<{ session: ort.InferenceSession; provider: ExecutionProvider }> {
    const options: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: this.config.inference.graphOptimization,
      intraOpNumThreads: this.config.inference.intraOpThreads,
      interOpNumThreads: 1,
    };
    if (need !== 'cpu') {
      try {
        return {
          session: await ort.InferenceSession.create(bytes, { ...options, executionProviders: ['cuda'] }),
          provider: 'cuda',
        };
      } catch (error) {
        const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
        if (need === 'require-gpu')
          throw new GpuUnavailableError(`${key} requires a GPU, but CUDA could not load: ${reason}`);
        this.logger.warn({ model: key, reason }, 'CUDA unavailable; running on CPU');
      }
    }
    return {
      session: await ort.InferenceSession.create(bytes, { ...options, executionProviders: ['cpu'] }),
      provider: 'cpu',
    };
  }

  private async runBatch(model: LoadedModel, rows: RowInputs[]): Promise<RowOutputs[]> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of model.inputs) {
      const size = rowSize(input);
      const type = input.type as ElementType;
      const data = TYPED[type](rows.length * size);
      rows.forEach((row, r) => {
        const values = row[input.name];
        if (!values || values.length !== size)
          throw new Error(`input ${input.name} needs ${size} values per row`);
        values.forEach(
          (v, j) => (data[r * size + j] = (type === 'int64' ? BigInt(Math.trunc(v)) : v) as never),
        );
      });
      feeds[input.name] = new ort.Tensor(type, data, [
        rows.length,
        ...input.shape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1)),
      ]);
    }
    const timer = inferenceSeconds.startTimer({ model: model.key, provider: model.provider });
    const results = await model.session.run(feeds);
    timer();
    inferenceBatchSize.observe({ model: model.key }, rows.length);
    return rows.map((_, r) =>
      Object.fromEntries(
        model.outputs.map((output) => {
          const tensor = results[output.name];
          const size = tensor.data.length / rows.length;
          const slice = Array.from(
            tensor.data.slice(r * size, (r + 1) * size) as ArrayLike<number | bigint>,
            Number,
          );
          return [output.name, slice];
        }),
      ),
    );
  }
}

function toMetadata(m: ort.InferenceSession.ValueMetadata): TensorMetadata {
  return m.isTensor
    ? { name: m.name, type: m.type, shape: [...m.shape] }
    : { name: m.name, type: 'non-tensor', shape: [] };
}

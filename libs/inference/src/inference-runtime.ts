import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { inferenceModelInfo, inferenceRequestsTotal, inferenceSessionMemoryBytes } from '@aegle/telemetry';
import { InvalidInputError, ModelNotLoadedError, ModelWarmUpError } from './errors';
import { createSession, ExecutionPolicy, ExecutionProvider } from './execution-providers';
import { BatchPolicy, MicroBatcher } from './micro-batcher';
import { RunMetrics } from './run-metrics';
import { FeedBuffers, RowInputs, RowOutputs, TensorCodec, TensorMetadata } from './tensor-codec';

/** How one model runs; what a plugin's manifest declares, over the `inference` config defaults. */
export interface ModelOptions {
  execution?: ExecutionPolicy;
  batching?: { maxBatchSize?: number; maxQueueDelayMicroseconds?: number };
  concurrency?: number;
}

export interface RunResult {
  outputs: RowOutputs;
  /** The execution provider that ran this request. */
  provider: ExecutionProvider;
}

/** What a load found and decided. */
export interface LoadedModelInfo {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  provider: ExecutionProvider;
  /** Why a `prefer-gpu` model runs on CPU. */
  fallbackReason?: string;
  batching: BatchPolicy;
}

/** A loaded model as the health and admin layers see it. */
export interface ModelStatus {
  key: string;
  execution: ExecutionPolicy;
  provider: ExecutionProvider;
  fallbackReason?: string;
  batchable: boolean;
  batching: BatchPolicy;
  /** Requests waiting for a batch, and runs in progress, right now. */
  waiting: number;
  running: number;
  loadedAt: string;
  memory: SessionMemory;
}

export interface SessionMemory {
  /** Size of the ONNX file. */
  modelBytes: number;
  /** Growth of the process's resident memory while the session was created and warmed up. */
  rssAtLoadBytes: number;
}

interface LoadedModel {
  key: string;
  session: ort.InferenceSession;
  execution: ExecutionPolicy;
  provider: ExecutionProvider;
  fallbackReason?: string;
  codec: TensorCodec;
  batching: BatchPolicy;
  batcher: MicroBatcher<RowInputs, RunResult>;
  /** Free input buffers, one per run that was in flight at once. */
  buffers: FeedBuffers[];
  loadedAt: Date;
  memory: SessionMemory;
  metrics: RunMetrics;
}

/**
 * Owns the ONNX sessions: one per model version, on the execution provider its policy allows,
 * warmed up at load, with concurrent single-row requests micro-batched into one `session.run`.
 * Loading a key that is already loaded swaps models without dropping a request.
 */
@Injectable()
export class InferenceRuntime implements OnModuleDestroy {
  private readonly logger = new Logger(InferenceRuntime.name);
  private readonly models = new Map<string, LoadedModel>();
  /** Loads run one at a time, so each RSS measurement belongs to one session. */
  private loading: Promise<unknown> = Promise.resolve();

  constructor(@Inject(AEGLE_CONFIG) private readonly config: AegleConfig) {
    // onnxruntime's own lines go to stderr, outside our JSON logs, and may quote input values;
    // every failure reaches its caller (and a CUDA fallback our warning) instead.
    ort.env.logLevel = 'fatal';
  }

  /**
   * Creates and warms up a session for `key` (plugin id@version). If `key` is loaded already, the
   * new session takes the new requests from the moment it is ready; the old one finishes what it
   * has, then is released.
   */
  load(key: string, bytes: Uint8Array, options: ModelOptions = {}): Promise<LoadedModelInfo> {
    const next = this.loading.then(() => this.loadNow(key, bytes, options));
    this.loading = next.catch(() => undefined);
    return next;
  }

  /** Runs one request; it may share a `session.run` with others. */
  run(key: string, row: RowInputs): Promise<RunResult> {
    const model = this.models.get(key);
    if (!model) return Promise.reject(new ModelNotLoadedError(key));
    const problem = model.codec.check(row);
    if (problem) {
      inferenceRequestsTotal.inc({ model: key, provider: model.provider, outcome: 'invalid' });
      return Promise.reject(new InvalidInputError(`${key}: ${problem}`));
    }
    return model.batcher.submit(row);
  }

  /** Stops taking requests for `key`, lets the ones in flight finish, and releases the session. */
  async unload(key: string): Promise<void> {
    const model = this.models.get(key);
    if (!model) return;
    this.models.delete(key);
    await this.retire(model);
    this.logger.log({ model: key }, 'model unloaded');
  }

  isLoaded(key: string): boolean {
    return this.models.has(key);
  }

  /** Every loaded model: its provider, batching, queue and memory. */
  status(): ModelStatus[] {
    return [...this.models.values()].map((m) => ({
      key: m.key,
      execution: m.execution,
      provider: m.provider,
      ...(m.fallbackReason ? { fallbackReason: m.fallbackReason } : {}),
      batchable: m.codec.batchable,
      batching: m.batching,
      waiting: m.batcher.waiting,
      running: m.batcher.running,
      loadedAt: m.loadedAt.toISOString(),
      memory: m.memory,
    }));
  }

  /** Memory of the loaded sessions, for health and admin endpoints. */
  memoryUsage(): { processRssBytes: number; models: Array<{ key: string } & SessionMemory> } {
    return {
      processRssBytes: process.memoryUsage.rss(),
      models: [...this.models.values()].map((m) => ({ key: m.key, ...m.memory })),
    };
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.models.keys()].map((key) => this.unload(key)));
  }

  private async loadNow(key: string, bytes: Uint8Array, options: ModelOptions): Promise<LoadedModelInfo> {
    const settings = this.config.inference;
    const declared = options.execution ?? 'cpu';
    const execution = settings.execution ?? declared;
    if (execution !== declared) {
      this.logger.log({ model: key, declared, execution }, 'inference.execution overrides the model policy');
    }
    const rssBefore = process.memoryUsage.rss();
    const { session, provider, fallbackReason } = await createSession(
      bytes,
      execution,
      {
        graphOptimizationLevel: settings.graphOptimization,
        intraOpNumThreads: settings.intraOpThreads,
        interOpNumThreads: settings.interOpThreads,
        executionMode: 'sequential',
        logSeverityLevel: 4,
      },
      settings.cudaDeviceId,
    );
    if (fallbackReason) {
      this.logger.warn({ model: key, execution, reason: fallbackReason }, 'CUDA unavailable: running on CPU');
    }
    const inputs = session.inputMetadata.map(toMetadata);
    const outputs = session.outputMetadata.map(toMetadata);
    let codec: TensorCodec;
    let batching: BatchPolicy;
    try {
      codec = new TensorCodec(key, inputs, outputs);
      batching = this.batchPolicy(codec, options);
      await warmUp(key, session, codec, batching.maxBatchSize);
    } catch (error) {
      await session.release();
      throw error;
    }
    const model: LoadedModel = {
      key,
      session,
      execution,
      provider,
      fallbackReason,
      codec,
      batching,
      batcher: new MicroBatcher(batching, (rows) => this.runBatch(model, rows)),
      buffers: [],
      loadedAt: new Date(),
      memory: {
        modelBytes: bytes.byteLength,
        rssAtLoadBytes: Math.max(0, process.memoryUsage.rss() - rssBefore),
      },
      metrics: new RunMetrics(key, provider),
    };
    // The swap: new requests go to the new session from here on; the old one finishes its own.
    const previous = this.models.get(key);
    this.models.set(key, model);
    if (previous) {
      await this.retire(previous);
      this.logger.log({ model: key, provider }, 'model swapped');
    } else {
      this.logger.log({ model: key, provider, batching }, 'model loaded');
    }
    inferenceModelInfo.set({ model: key, execution, provider }, 1);
    inferenceSessionMemoryBytes.set({ model: key, kind: 'model' }, model.memory.modelBytes);
    inferenceSessionMemoryBytes.set({ model: key, kind: 'rss_at_load' }, model.memory.rssAtLoadBytes);
    return { inputs, outputs, provider, fallbackReason, batching };
  }

  /** The manifest's batching over the `inference` config defaults; no batching for a fixed batch size. */
  private batchPolicy(codec: TensorCodec, options: ModelOptions): BatchPolicy {
    const settings = this.config.inference;
    return {
      maxBatchSize: codec.batchable ? (options.batching?.maxBatchSize ?? settings.batching.maxBatchSize) : 1,
      maxQueueDelayMicroseconds: codec.batchable
        ? (options.batching?.maxQueueDelayMicroseconds ?? settings.batching.maxQueueDelayMicroseconds)
        : 0,
      concurrency: options.concurrency ?? settings.concurrency,
    };
  }

  /** Lets a model that no longer takes requests finish the ones it has, then frees its session. */
  private async retire(model: LoadedModel): Promise<void> {
    await model.batcher.drain();
    model.metrics.close();
    inferenceModelInfo.remove({ model: model.key, execution: model.execution, provider: model.provider });
    if (!this.models.has(model.key)) {
      inferenceSessionMemoryBytes.remove({ model: model.key, kind: 'model' });
      inferenceSessionMemoryBytes.remove({ model: model.key, kind: 'rss_at_load' });
    }
    try {
      await model.session.release();
    } catch (error) {
      this.logger.error({ model: model.key, error: (error as Error).message }, 'session release failed');
    }
  }

  private async runBatch(model: LoadedModel, rows: RowInputs[]): Promise<RunResult[]> {
    const n = rows.length;
    // One set of input buffers per run in flight, reused, so a batch allocates no input memory.
    const buffers = model.buffers.pop() ?? model.codec.allocate(model.batching.maxBatchSize);
    try {
      const feeds = model.codec.pack(rows, buffers);
      const started = performance.now();
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = await model.session.run(feeds);
      } finally {
        model.buffers.push(buffers);
      }
      const seconds = (performance.now() - started) / 1000;
      const provider = model.provider;
      const answers = model.codec.split(results, n, (outputs): RunResult => ({ outputs, provider }));
      model.metrics.succeeded(seconds, n);
      return answers;
    } catch (error) {
      // A failed batch is re-run row by row; count each request once, when it fails alone.
      if (n === 1) model.metrics.failed();
      throw error;
    }
  }
}

/** One run at batch size 1 and one at the largest batch, so the first real request pays no set-up. */
async function warmUp(
  key: string,
  session: ort.InferenceSession,
  codec: TensorCodec,
  maxBatchSize: number,
): Promise<void> {
  const row = codec.zeroRow();
  for (const n of new Set([1, maxBatchSize])) {
    try {
      await session.run(codec.pack(new Array<RowInputs>(n).fill(row)));
    } catch (error) {
      throw new ModelWarmUpError(
        `${key}: the warm-up run (batch of ${n}) failed: ${(error as Error).message.split('\n')[0]}`,
      );
    }
  }
}

function toMetadata(m: ort.InferenceSession.ValueMetadata): TensorMetadata {
  return m.isTensor
    ? { name: m.name, type: m.type, shape: [...m.shape] }
    : { name: m.name, type: 'non-tensor', shape: [] };
}

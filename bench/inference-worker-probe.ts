/**
 * `npm run bench:inference:worker-probe`: would moving `session.run` to a worker thread get Aegle
 * closer to raw onnxruntime? The measurement behind docs/inference.md's answer (no, for models this
 * small), kept so that it can be re-run on other hardware.
 *
 * onnxruntime-node 1.30 runs `session.run` synchronously on the calling thread (inside a
 * `setImmediate`), so the only way to overlap packing and splitting with inference is a second
 * thread. For each reference model, 64 closed-loop clients send single-row requests through the real
 * `MicroBatcher`, whose runs go to one worker thread that owns the session (batches sent and answered
 * as transferred `ArrayBuffer`s):
 *   - `1 × 64`: one batch of up to 64 rows in flight (no overlap: all 64 clients are in it);
 *   - `2 × 32`: two batches of up to 32 in flight, so the main thread fills one while the worker
 *     runs the other (with 64 clients, two batches in flight hold 32 rows each at most).
 * Baselines in the same run: the bare loop over `session.run` with pre-built batches of 64 (the
 * clients' 256 rows) on the main thread (what bench:inference compares with), and the same loop on two threads at once, since
 * the worker design uses a second core. CPU µs per row of each thread come from
 * /proc/thread-self/schedstat where Linux has it.
 *
 * Options: ROUNDS (default 5), ROUND_MS (default 300).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { MicroBatcher } from '@aegle/inference';
import { Model, referenceModels } from './reference-models';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ROUND_MS = Number(process.env.ROUND_MS ?? 300);
const CLIENTS = 64;
const sessionOptions: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  executionProviders: ['cpu'],
};

/** CPU time of the calling thread in µs, or NaN where the kernel does not say. */
function threadCpuMicroseconds(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
  } catch {
    return NaN;
  }
}

type ToWorker =
  | { kind: 'run'; id: number; rows: number; features: ArrayBuffer }
  | { kind: 'raw-loop'; ms: number }
  | { kind: 'cpu' };
type FromWorker =
  | { kind: 'ready' }
  | { kind: 'ran'; id: number; features: ArrayBuffer; outputs: Float64Array[] }
  | { kind: 'raw-loop'; rows: number }
  | { kind: 'cpu'; us: number };

/** The worker: owns one session; runs the batches it is sent, or a raw loop for the 2-thread baseline. */
async function serve(model: Model): Promise<void> {
  const port = parentPort!;
  const session = await ort.InferenceSession.create(model.bytes, sessionOptions);
  const width = model.rows[0].length;
  const batches = prebuilt(model);
  port.on('message', async (message: ToWorker) => {
    if (message.kind === 'cpu') {
      port.postMessage({ kind: 'cpu', us: threadCpuMicroseconds() } satisfies FromWorker);
    } else if (message.kind === 'raw-loop') {
      let calls = 0;
      const deadline = performance.now() + message.ms;
      while (performance.now() < deadline) {
        for (let i = 0; i < 50; i++) await session.run(batches[i & 3]);
        calls += 50;
      }
      port.postMessage({ kind: 'raw-loop', rows: calls * 64 } satisfies FromWorker);
    } else {
      const data = new Float64Array(message.features, 0, message.rows * width);
      const results = await session.run({ features: new ort.Tensor('float64', data, [message.rows, width]) });
      const outputs = session.outputNames.map((name) => results[name].data as Float64Array);
      const reply: FromWorker = { kind: 'ran', id: message.id, features: message.features, outputs };
      port.postMessage(reply, [message.features, ...outputs.map((o) => o.buffer as ArrayBuffer)]);
    }
  });
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
}

/** The main thread's side of one worker: batches out, answers back, matched by id. */
class InferenceWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, (message: FromWorker) => void>();
  private readonly free: ArrayBuffer[] = [];
  private nextId = 0;
  private readonly width: number;

  constructor(model: Model) {
    this.width = model.rows[0].length;
    this.worker = new Worker(__filename, { workerData: model.name });
    this.worker.on('message', (message: FromWorker) => {
      const key = message.kind === 'ran' ? message.id : -1;
      const answer = this.waiting.get(key);
      this.waiting.delete(key);
      answer?.(message);
    });
  }

  ready(): Promise<unknown> {
    return this.reply(-1, undefined);
  }

  async run(rows: number[][]): Promise<number[]> {
    const features = this.free.pop() ?? new ArrayBuffer(64 * this.width * 8);
    const data = new Float64Array(features);
    for (let r = 0; r < rows.length; r++) data.set(rows[r], r * this.width);
    const id = this.nextId++;
    const message = (await this.reply(id, { kind: 'run', id, rows: rows.length, features }, [
      features,
    ])) as Extract<FromWorker, { kind: 'ran' }>;
    this.free.push(message.features);
    return Array.from(message.outputs[0]);
  }

  async rawLoop(ms: number): Promise<number> {
    return ((await this.reply(-1, { kind: 'raw-loop', ms })) as Extract<FromWorker, { kind: 'raw-loop' }>)
      .rows;
  }

  async cpu(): Promise<number> {
    return ((await this.reply(-1, { kind: 'cpu' })) as Extract<FromWorker, { kind: 'cpu' }>).us;
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }

  private reply(
    id: number,
    message: ToWorker | undefined,
    transfer: ArrayBuffer[] = [],
  ): Promise<FromWorker> {
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      if (message) this.worker.postMessage(message, transfer);
    });
  }
}

interface Sample {
  rate: number;
  mainCpuPerRow: number;
  workerCpuPerRow: number;
}

async function measured(worker: InferenceWorker, body: () => Promise<number>): Promise<Sample> {
  const [main, other] = [threadCpuMicroseconds(), await worker.cpu()];
  const started = performance.now();
  const rows = await body();
  const elapsed = performance.now() - started;
  const [mainAfter, otherAfter] = [threadCpuMicroseconds(), await worker.cpu()];
  return {
    rate: (rows * 1000) / elapsed,
    mainCpuPerRow: (mainAfter - main) / rows,
    workerCpuPerRow: (otherAfter - other) / rows,
  };
}

/** The model's 256 rows as four pre-built batches of 64: raw runs the rows the clients send. */
function prebuilt(model: Model): Array<Record<string, ort.Tensor>> {
  return [0, 1, 2, 3].map((k) => {
    const rows = model.rows.slice(k * 64, (k + 1) * 64);
    return { features: new ort.Tensor('float64', Float64Array.from(rows.flat()), [64, rows[0].length]) };
  });
}

async function rawLoop(
  session: ort.InferenceSession,
  batches: Array<Record<string, ort.Tensor>>,
): Promise<number> {
  let calls = 0;
  const deadline = performance.now() + ROUND_MS;
  while (performance.now() < deadline) {
    for (let i = 0; i < 50; i++) await session.run(batches[i & 3]);
    calls += 50;
  }
  return calls * 64;
}

function throughWorker(worker: InferenceWorker, model: Model, slots: number): () => Promise<number> {
  const batcher = new MicroBatcher<number[], number>(
    { maxBatchSize: CLIENTS / slots, maxQueueDelayMicroseconds: 0, concurrency: slots },
    (rows) => worker.run(rows),
  );
  return async () => {
    let answered = 0;
    let next = 0;
    const deadline = performance.now() + ROUND_MS;
    const client = async () => {
      while (performance.now() < deadline) {
        for (let i = 0; i < 50; i++) await batcher.submit(model.rows[next++ & 255]);
        answered += 50;
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    return answered;
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  console.log(
    `worker-thread probe · onnxruntime intra-op 1, inter-op 1 · ${CLIENTS} clients · ${ROUNDS} rounds × ${ROUND_MS} ms`,
  );
  console.log(
    'model                       variant                    rows/s   × raw (1 thread)  × raw (2 threads)   CPU µs/row: main  worker',
  );
  for (const model of referenceModels()) {
    const session = await ort.InferenceSession.create(model.bytes, sessionOptions);
    const batches = prebuilt(model);
    const worker = new InferenceWorker(model);
    await worker.ready();
    const variants: Array<[string, () => Promise<number>]> = [
      ['raw, main thread', () => rawLoop(session, batches)],
      [
        'raw, main + worker threads',
        async () =>
          (await Promise.all([rawLoop(session, batches), worker.rawLoop(ROUND_MS)])).reduce((a, b) => a + b),
      ],
      ['worker, 1 × 64 in flight', throughWorker(worker, model, 1)],
      ['worker, 2 × 32 in flight', throughWorker(worker, model, 2)],
    ];
    const samples = new Map<string, Sample[]>(variants.map(([name]) => [name, []]));
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [name, body] of variants) {
        const sample = await measured(worker, body);
        if (round > 0) samples.get(name)!.push(sample); // round 0 warms up
      }
    }
    const rate = (name: string) => median(samples.get(name)!.map((s) => s.rate));
    const [oneThread, twoThreads] = [rate(variants[0][0]), rate(variants[1][0])];
    for (const [name] of variants) {
      const of = samples.get(name)!;
      console.log(
        `${model.name.padEnd(27)} ${name.padEnd(26)} ${rate(name).toFixed(0).padStart(8)} ` +
          `${(rate(name) / oneThread).toFixed(2).padStart(17)} ${(rate(name) / twoThreads).toFixed(2).padStart(18)} ` +
          `${median(of.map((s) => s.mainCpuPerRow))
            .toFixed(2)
            .padStart(20)} ${median(of.map((s) => s.workerCpuPerRow))
            .toFixed(2)
            .padStart(7)}`,
      );
    }
    await worker.terminate();
    await session.release();
  }
}

if (isMainThread) {
  void main();
} else {
  const model = referenceModels().find((m) => m.name === workerData);
  void serve(model!);
}

/**
 * `npm run bench:inference`: Aegle's inference runtime against bare onnxruntime-node, in one run.
 *
 * For each reference model and N = 1, 8, 64: the baseline is a bare loop over `session.run` with a
 * pre-built batch of N rows; Aegle serves N concurrent clients, each sending single-row requests
 * through `InferenceRuntime.run` (micro-batched). Rows per second of each and their ratio; the median
 * of several alternating rounds, since the host is shared. Floors (issue 4): Aegle ≥ 0.8× the raw
 * batched rate at N = 64, and under 50 µs of overhead per request at N = 1. The "promise ceiling"
 * column is the best any one-promise-per-request API could do here (see `ceilingRate`).
 *
 * Options: ROUNDS (default 5), ROUND_MS (time per measurement, default 300).
 */
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '@aegle/config';
import { InferenceRuntime, RowInputs } from '@aegle/inference';
import { Model, referenceModels } from './reference-models';

Logger.overrideLogger(['error', 'warn']);

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ROUND_MS = Number(process.env.ROUND_MS ?? 300);
const BATCHES = [1, 8, 64];
const FLOOR_RATIO_AT_64 = 0.8;
const FLOOR_OVERHEAD_US = 50;

const config = loadConfig(
  {},
  {
    sources: [
      { id: 'bench', fhirBaseUrl: 'http://127.0.0.1/fhir', inbound: { bearerToken: 'bench-only-token' } },
    ],
  },
);
const sessionOptions: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: config.inference.graphOptimization,
  intraOpNumThreads: config.inference.intraOpThreads,
  interOpNumThreads: config.inference.interOpThreads,
  executionMode: 'sequential',
  executionProviders: ['cpu'],
};

/** Runs `once` repeatedly for about ROUND_MS; returns rows per second. */
async function timed(rowsPerCall: number, once: () => Promise<unknown>): Promise<number> {
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ROUND_MS) {
    for (let i = 0; i < 50; i++) await once();
    calls += 50;
    elapsed = performance.now() - started;
  }
  return (calls * rowsPerCall * 1000) / elapsed;
}

function prebuilt(model: Model, n: number): Record<string, ort.Tensor> {
  const rows = model.rows.slice(0, n);
  return { features: new ort.Tensor('float64', Float64Array.from(rows.flat()), [n, rows[0].length]) };
}

function rawRate(session: ort.InferenceSession, model: Model, n: number): Promise<number> {
  const feeds = prebuilt(model, n);
  return timed(n, () => session.run(feeds));
}

/** N clients in a closed loop, each sending its next request as soon as its last one is answered. */
async function closedLoop(n: number, request: (i: number) => Promise<unknown>): Promise<number> {
  let answered = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + ROUND_MS;
  const client = async () => {
    while (performance.now() < deadline) {
      for (let i = 0; i < 50; i++) await request(next++);
      answered += 50;
    }
  };
  await Promise.all(Array.from({ length: n }, client));
  return (answered * 1000) / (performance.now() - started);
}

function aegleRate(runtime: InferenceRuntime, model: Model, n: number): Promise<number> {
  const requests: RowInputs[] = model.rows.map((row) => ({ features: row }));
  return closedLoop(n, (i) => runtime.run(model.name, requests[i & 255]));
}

/**
 * The most any one-promise-per-request API can do on Node's one thread: the same N clients, each
 * awaiting a promise that a bare loop resolves from the pre-built batch's run. Nothing packed, split
 * or measured. The gap between this and raw is JavaScript's own cost, not Aegle's.
 */
function ceilingRate(session: ort.InferenceSession, model: Model, n: number): Promise<number> {
  const feeds = prebuilt(model, n);
  let waiting: Array<(value: unknown) => void> = [];
  const runAll = async () => {
    const batch = waiting;
    waiting = [];
    const results = await session.run(feeds);
    for (const resolve of batch) resolve(results);
  };
  return closedLoop(
    n,
    () =>
      new Promise((resolve) => {
        if (waiting.push(resolve) === n) void runAll();
      }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  const runtime = new InferenceRuntime(config);
  const failures: string[] = [];
  console.log(
    `onnxruntime-node ${ort.env.versions.node ?? ''} · CPU · ${ROUNDS} rounds × ${ROUND_MS} ms · ` +
      `Aegle batching ${JSON.stringify(config.inference.batching)}, concurrency ${config.inference.concurrency}`,
  );
  console.log(
    'model                       N   raw rows/s   promise ceiling   Aegle rows/s  Aegle/raw  overhead µs/request',
  );
  for (const model of referenceModels()) {
    const session = await ort.InferenceSession.create(model.bytes, sessionOptions);
    await runtime.load(model.name, model.bytes, { execution: 'cpu' });
    for (const n of BATCHES) {
      const raw: number[] = [];
      const ceiling: number[] = [];
      const aegle: number[] = [];
      // Warm every path, then alternate them so that the host's noise falls on all alike.
      await rawRate(session, model, n);
      await ceilingRate(session, model, n);
      await aegleRate(runtime, model, n);
      for (let round = 0; round < ROUNDS; round++) {
        raw.push(await rawRate(session, model, n));
        ceiling.push(await ceilingRate(session, model, n));
        aegle.push(await aegleRate(runtime, model, n));
      }
      const ratio = median(aegle.map((a, i) => a / raw[i]));
      const ceilingRatio = median(ceiling.map((c, i) => c / raw[i]));
      // At N = 1 every request is a run of its own: the difference in time per request is our cost.
      const overhead = median(aegle.map((a, i) => 1e6 / a - 1e6 / raw[i]));
      console.log(
        `${model.name.padEnd(27)} ${String(n).padStart(2)} ${median(raw).toFixed(0).padStart(12)} ` +
          `${median(ceiling).toFixed(0).padStart(10)} (${ceilingRatio.toFixed(2)}) ${median(aegle).toFixed(0).padStart(14)} ` +
          `${ratio.toFixed(2).padStart(10)}  ${n === 1 ? overhead.toFixed(1).padStart(8) : ''}`,
      );
      if (n === 64 && ratio < FLOOR_RATIO_AT_64)
        failures.push(`${model.name}: ratio ${ratio.toFixed(2)} at N = 64`);
      if (n === 1 && overhead >= FLOOR_OVERHEAD_US)
        failures.push(`${model.name}: ${overhead.toFixed(1)} µs overhead per request at N = 1`);
    }
    await session.release();
    await runtime.unload(model.name);
  }
  console.log(
    failures.length === 0
      ? `floors met: ratio ≥ ${FLOOR_RATIO_AT_64} at N = 64, overhead < ${FLOOR_OVERHEAD_US} µs at N = 1`
      : `BELOW FLOOR (a shared host is noisy: run it again before concluding):\n  ${failures.join('\n  ')}`,
  );
  process.exitCode = failures.length === 0 ? 0 : 1;
}

void main();

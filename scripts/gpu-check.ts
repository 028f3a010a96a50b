/**
 * `npm run gpu:check`: on a GPU host, proves that Aegle's models really run on CUDA. Installs
 * nothing and needs no network. For each model of `bench:inference` (the reference plugins' tabular
 * models, the pneumonia chest X-ray CNN and the compute-bound ResNet-50) it
 *   1. loads it through InferenceRuntime with `require-gpu` (no fallback allowed),
 *   2. reads onnxruntime's profile to see which provider ran each operator (no silent CPU fallback),
 *   3. compares CUDA's outputs with CPU's on the same rows, to the model's relative tolerance,
 *   4. prints CPU vs GPU throughput (bare session.run loops) at several batch sizes.
 * Exits 0 when every model passes, 1 when one fails, 2 when this host cannot run CUDA at all.
 */
import { Logger } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '@aegle/config';
import {
  cudaProviderLibraries,
  GpuUnavailableError,
  InferenceRuntime,
  profileNodePlacement,
} from '@aegle/inference';
import { benchModels, feedsOf, requestOf } from '../bench/bench-models';

const BATCHES = [1, 8, 64, 512, 4096];
/** A ResNet-50 batch of 4096 images would take the CPU side many minutes. */
const HEAVY_BATCHES = [1, 8, 64];
const ROUND_MS = Number(process.env.ROUND_MS ?? 300);
const DEVICE = Number(process.env.CUDA_DEVICE ?? 0);

Logger.overrideLogger(['error']);

function fail(code: number, message: string): never {
  console.error(`gpu-check: ${message}`);
  process.exit(code);
}

function gpuName(): string {
  try {
    return execFileSync(
      'nvidia-smi',
      ['--query-gpu=name,driver_version', '--format=csv,noheader', `--id=${DEVICE}`],
      {
        encoding: 'utf8',
      },
    ).trim();
  } catch {
    return 'unknown (nvidia-smi not found)';
  }
}

async function rate(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  rows: number,
  warmUps: number,
): Promise<number> {
  for (let i = 0; i < warmUps; i++) await session.run(feeds);
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < ROUND_MS) {
    await session.run(feeds);
    calls += 1;
  }
  return (calls * rows * 1000) / (performance.now() - started);
}

async function main(): Promise<void> {
  const missing = cudaProviderLibraries().filter((file) => !existsSync(file));
  if (missing.length > 0) {
    fail(
      2,
      `this host has no CUDA provider for onnxruntime-node (missing ${missing.join(', ')}).\n` +
        'Install it once with network access, on a host with CUDA 12 and cuDNN 9 (docs/gpu.md):\n' +
        '  ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js',
    );
  }
  console.log(`GPU ${DEVICE}: ${gpuName()} · onnxruntime-node ${ort.env.versions.node ?? ''}`);
  const config = loadConfig(
    {},
    {
      sources: [
        { id: 'gpu-check', fhirBaseUrl: 'http://127.0.0.1/fhir', inbound: { bearerToken: 'gpu-check-only' } },
      ],
      inference: { cudaDeviceId: DEVICE },
    },
  );
  const runtime = new InferenceRuntime(config);
  const cuda: ort.InferenceSession.ExecutionProviderConfig[] = [{ name: 'cuda', deviceId: DEVICE }];
  const problems: string[] = [];

  for (const model of benchModels()) {
    const batchOf = (n: number) =>
      feedsOf(
        model,
        Array.from({ length: n }, (_, i) => model.rows[i % model.rows.length]),
      );
    console.log(`\n${model.name}`);
    // 1. Aegle's own policy: require-gpu must load on CUDA or refuse.
    try {
      const loaded = await runtime.load(model.name, model.bytes, { execution: 'require-gpu' });
      console.log(`  InferenceRuntime require-gpu: provider ${loaded.provider}`);
      if (loaded.provider !== 'cuda')
        problems.push(`${model.name}: require-gpu loaded on ${loaded.provider}`);
    } catch (error) {
      const why = error instanceof GpuUnavailableError ? error.message : String(error);
      problems.push(`${model.name}: ${why}`);
      console.log(`  InferenceRuntime require-gpu: REFUSED: ${why}`);
      continue;
    }

    // 2. Which provider really ran each operator.
    const placement = await profileNodePlacement(model.bytes, cuda, requestOf(model, model.rows[0]));
    const onGpu = placement.CUDAExecutionProvider ?? [];
    const elsewhere = Object.entries(placement).filter(([provider]) => provider !== 'CUDAExecutionProvider');
    console.log(`  operators on CUDA: ${onGpu.length} (${[...new Set(onGpu)].join(', ')})`);
    for (const [provider, ops] of elsewhere)
      console.log(`  operators on ${provider}: ${ops.length} (${[...new Set(ops)].join(', ')})`);
    if (onGpu.length === 0) problems.push(`${model.name}: no operator ran on CUDA`);

    // 3. Same rows through Aegle on CUDA and through a CPU session.
    const cpu = await ort.InferenceSession.create(model.bytes, { executionProviders: ['cpu'] });
    const gpu = await ort.InferenceSession.create(model.bytes, { executionProviders: cuda });
    const reference = await cpu.run(batchOf(model.rows.length));
    const answers = await Promise.all(
      model.rows.map((row) => runtime.run(model.name, requestOf(model, row))),
    );
    let worst = 0;
    for (const [name, tensor] of Object.entries(reference)) {
      const expected = tensor.data as Float32Array | Float64Array;
      const width = expected.length / model.rows.length;
      answers.forEach((answer, r) =>
        answer.outputs[name].forEach((value, j) => {
          const want = expected[r * width + j];
          worst = Math.max(worst, Math.abs(value - want) / Math.max(1, Math.abs(want)));
        }),
      );
    }
    const agrees = worst <= model.tolerance && answers.every((a) => a.provider === 'cuda');
    console.log(
      `  CUDA vs CPU on ${model.rows.length} rows: max relative difference ${worst.toExponential(2)} (tolerance ${model.tolerance})`,
    );
    if (!agrees) problems.push(`${model.name}: CUDA outputs differ from CPU by ${worst.toExponential(2)}`);

    // 4. Throughput, bare session.run loops.
    console.log('  batch      CPU rows/s      GPU rows/s   GPU/CPU');
    const warmUps = model.heavy ? 2 : 20;
    for (const n of model.heavy ? HEAVY_BATCHES : BATCHES) {
      const feeds = batchOf(n);
      const [c, g] = [await rate(cpu, feeds, n, warmUps), await rate(gpu, feeds, n, warmUps)];
      console.log(
        `  ${String(n).padStart(5)} ${c.toFixed(0).padStart(15)} ${g.toFixed(0).padStart(15)} ${(g / c).toFixed(2).padStart(9)}`,
      );
    }
    await Promise.all([cpu.release(), gpu.release(), runtime.unload(model.name)]);
  }

  if (problems.length > 0) fail(1, `FAILED\n  ${problems.join('\n  ')}`);
  console.log('\ngpu-check: CUDA runs every model, and its outputs match the CPU’s.');
}

main().catch((error: unknown) => fail(1, (error as Error).stack ?? String(error)));

import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GpuUnavailableError } from './errors';

/** Where a model may run: `prefer-gpu` falls back to CPU with a warning, `require-gpu` refuses to. */
export type ExecutionPolicy = 'cpu' | 'prefer-gpu' | 'require-gpu';
/** The execution provider a session actually runs on. */
export type ExecutionProvider = 'cuda' | 'cpu';

export interface CreatedSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
  /** Why a `prefer-gpu` model runs on CPU. */
  fallbackReason?: string;
}

/**
 * The CUDA provider libraries onnxruntime-node loads from beside its binding. npm installs the CPU
 * binaries only; docs/gpu.md says how a GPU host adds these files.
 */
export function cudaProviderLibraries(): string[] {
  const bin = join(
    dirname(require.resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  );
  return ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'].map((file) =>
    join(bin, file),
  );
}

/**
 * Creates a session under an execution policy. onnxruntime-node throws, rather than falls back,
 * when the CUDA provider cannot load, so the fallback is ours and always says why.
 */
export async function createSession(
  bytes: Uint8Array,
  policy: ExecutionPolicy,
  options: ort.InferenceSession.SessionOptions,
  cudaDeviceId: number,
): Promise<CreatedSession> {
  let fallbackReason: string | undefined;
  if (policy !== 'cpu') {
    try {
      const session = await ort.InferenceSession.create(bytes, {
        ...options,
        executionProviders: [{ name: 'cuda', deviceId: cudaDeviceId }],
      });
      return { session, provider: 'cuda' };
    } catch (error) {
      fallbackReason = whyNoCuda(error);
      if (policy === 'require-gpu')
        throw new GpuUnavailableError(`CUDA is required but unavailable: ${fallbackReason}`);
    }
  }
  const session = await ort.InferenceSession.create(bytes, { ...options, executionProviders: ['cpu'] });
  return { session, provider: 'cpu', fallbackReason };
}

function whyNoCuda(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  const missing = cudaProviderLibraries().filter((file) => !existsSync(file));
  return missing.length === 0
    ? message
    : `${message}: ${missing.map((file) => basename(file)).join(' and ')} not installed (see docs/gpu.md)`;
}

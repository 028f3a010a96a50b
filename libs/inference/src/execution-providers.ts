import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
 * Where onnxruntime-node looks for its CUDA provider library. npm installs the CPU binaries only;
 * docs/gpu.md says how a GPU host adds this file.
 */
export function cudaProviderLibrary(): string {
  const root = dirname(require.resolve('onnxruntime-node'));
  return join(root, '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
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
        // Our own warning names the reason; onnxruntime's native error line would only repeat it.
        logSeverityLevel: 4,
      });
      return { session, provider: 'cuda' };
    } catch (error) {
      fallbackReason = whyNoCuda(error);
      if (policy === 'require-gpu') throw new GpuUnavailableError(`CUDA is required but unavailable: ${fallbackReason}`);
    }
  }
  const session = await ort.InferenceSession.create(bytes, { ...options, executionProviders: ['cpu'] });
  return { session, provider: 'cpu', fallbackReason };
}

function whyNoCuda(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  const library = cudaProviderLibrary();
  return existsSync(library)
    ? message
    : `${message} (${library} is not installed: see docs/gpu.md)`;
}

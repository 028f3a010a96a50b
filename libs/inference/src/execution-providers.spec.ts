import { Logger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { configWith, weightedSumModel } from '../test/test-models';
import { GpuUnavailableError } from './errors';
import { cudaProviderLibraries } from './execution-providers';
import { InferenceRuntime } from './inference-runtime';

// The real policy against the real onnxruntime-node. `npm ci` installs no CUDA provider files, so
// asking for CUDA fails here exactly as on a production host without them. On a GPU host the
// configured device 99 does not exist, which fails the same way. `npm run gpu:check` covers CUDA.
const cudaInstalled = cudaProviderLibraries().every((file) => existsSync(file));
const noGpu = (inference: Record<string, unknown> = {}) => configWith({ cudaDeviceId: 99, ...inference });

describe('execution provider policy without a usable GPU', () => {
  let runtime: InferenceRuntime;
  afterEach(() => runtime?.onModuleDestroy());

  it('cpu runs on CPU without trying CUDA', async () => {
    runtime = new InferenceRuntime(noGpu());
    const loaded = await runtime.load('m@cpu', weightedSumModel([1, 1, 1]), { execution: 'cpu' });
    expect(loaded.provider).toBe('cpu');
    expect(loaded.fallbackReason).toBeUndefined();
  });

  it('prefer-gpu falls back to CPU with a warning that names the reason', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    runtime = new InferenceRuntime(noGpu());
    const loaded = await runtime.load('m@prefer', weightedSumModel([1, 1, 1]), { execution: 'prefer-gpu' });

    expect(loaded.provider).toBe('cpu');
    expect(loaded.fallbackReason).toMatch(
      cudaInstalled
        ? /Cuda|CUDA/
        : /libonnxruntime_providers_shared\.so and libonnxruntime_providers_cuda\.so not installed \(see docs\/gpu\.md\)/,
    );
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ model: 'm@prefer', execution: 'prefer-gpu', reason: loaded.fallbackReason }),
      'CUDA unavailable: running on CPU',
    );
    expect(runtime.status()[0]).toMatchObject({ execution: 'prefer-gpu', provider: 'cpu' });
    const result = await runtime.run('m@prefer', { x: [1, 2, 3] });
    expect(result).toEqual({ outputs: { y: [6], twice: [2, 4, 6] }, provider: 'cpu' });
    warn.mockRestore();
  });

  it('require-gpu refuses to load and says why', async () => {
    runtime = new InferenceRuntime(noGpu());
    const load = runtime.load('m@require', weightedSumModel([1, 1, 1]), { execution: 'require-gpu' });
    await expect(load).rejects.toBeInstanceOf(GpuUnavailableError);
    await expect(load).rejects.toThrow(/CUDA is required but unavailable: /);
    expect(runtime.isLoaded('m@require')).toBe(false);
  });

  it('inference.execution in the config overrides the policy of every model', async () => {
    runtime = new InferenceRuntime(noGpu({ execution: 'cpu' }));
    const loaded = await runtime.load('m@override', weightedSumModel([1, 1, 1]), {
      execution: 'require-gpu',
    });
    expect(loaded.provider).toBe('cpu');
    expect(runtime.status()[0]).toMatchObject({ execution: 'cpu', provider: 'cpu' });

    runtime = new InferenceRuntime(noGpu({ execution: 'require-gpu' }));
    await expect(
      runtime.load('m@strict', weightedSumModel([1, 1, 1]), { execution: 'cpu' }),
    ).rejects.toBeInstanceOf(GpuUnavailableError);
  });
});

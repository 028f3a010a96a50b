import * as ort from 'onnxruntime-node';
import { inferenceBatchSize, inferenceModelInfo, inferenceRequestsTotal } from '@aegle/telemetry';
import { configWith, lookupModel, ragged, weightedSumModel } from '../test/test-models';
import { InvalidInputError, ModelNotLoadedError, ModelWarmUpError, UnsupportedModelError } from './errors';
import { InferenceRuntime } from './inference-runtime';

/** Runs and rows per run of one model, from the runtime's own histogram. */
async function batches(model: string): Promise<{ runs: number; rows: number }> {
  const { values } = await inferenceBatchSize.get();
  const of = (name: string) =>
    values.find((v) => v.metricName === name && v.labels.model === model)?.value ?? 0;
  return { runs: of('aegle_inference_batch_size_count'), rows: of('aegle_inference_batch_size_sum') };
}

async function requests(model: string, outcome: string): Promise<number> {
  const { values } = await inferenceRequestsTotal.get();
  return values.find((v) => v.labels.model === model && v.labels.outcome === outcome)?.value ?? 0;
}

/** The real sessions' prototype: the tests watch `release()` on it (and let it run). */
const sessions = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;

const rows = (n: number) => Array.from({ length: n }, (_, i) => [i, i + 0.5, -i]);
const expected = (row: number[], w: number[]) => row.reduce((sum, v, j) => sum + v * w[j], 0);

describe('InferenceRuntime', () => {
  let runtime: InferenceRuntime;
  beforeEach(() => {
    runtime = new InferenceRuntime(configWith());
  });
  afterEach(() => runtime.onModuleDestroy());

  it('coalesces concurrent requests into one run and gives each its own results', async () => {
    await runtime.load('sum@1', weightedSumModel([1, 10, 100]));
    const results = await Promise.all(rows(10).map((row) => runtime.run('sum@1', { x: row })));

    expect(await batches('sum@1')).toEqual({ runs: 1, rows: 10 });
    results.forEach((result, i) => {
      expect(result.provider).toBe('cpu');
      expect(result.outputs.y).toEqual([expected(rows(10)[i], [1, 10, 100])]);
      expect(result.outputs.twice).toEqual(rows(10)[i].map((v) => v * 2));
    });
  });

  it('caps a batch at the model’s maxBatchSize; what waits forms the next batch', async () => {
    await runtime.load('sum@cap', weightedSumModel([1, 1, 1]), { batching: { maxBatchSize: 4 } });
    const results = await Promise.all(rows(10).map((row) => runtime.run('sum@cap', { x: row })));

    expect(await batches('sum@cap')).toEqual({ runs: 3, rows: 10 });
    expect(results.map((r) => r.outputs.y[0])).toEqual(rows(10).map((row) => expected(row, [1, 1, 1])));
  });

  it('keeps at most `concurrency` runs in flight per model', async () => {
    await runtime.load('sum@c2', weightedSumModel([1, 1, 1]), {
      batching: { maxBatchSize: 1 },
      concurrency: 2,
    });
    const pending = rows(6).map((row) => runtime.run('sum@c2', { x: row }));
    expect(runtime.status()[0]).toMatchObject({ running: 2, waiting: 4 });

    await Promise.all(pending);
    expect(runtime.status()[0]).toMatchObject({ running: 0, waiting: 0 });
    expect(await batches('sum@c2')).toEqual({ runs: 6, rows: 6 });
  });

  it('runs a model without a dynamic batch dimension one request at a time', async () => {
    const loaded = await runtime.load('fixed@1', weightedSumModel([2, 0, 0], 1), {
      batching: { maxBatchSize: 64 },
    });
    expect(loaded.batching).toMatchObject({ maxBatchSize: 1 });
    const pending = rows(5).map((row) => runtime.run('fixed@1', { x: row }));
    expect(runtime.status()[0]).toMatchObject({ batchable: false, running: 1, waiting: 4 });

    const results = await Promise.all(pending);
    expect(results.map((r) => r.outputs.y[0])).toEqual(rows(5).map((row) => row[0] * 2));
    expect(await batches('fixed@1')).toEqual({ runs: 5, rows: 5 });
  });

  it('fails only the request whose row breaks the run; the rest of its batch is answered', async () => {
    await runtime.load('lookup@1', lookupModel());
    const indices = [0, 1, 7, 2, 1];
    const settled = await Promise.allSettled(indices.map((i) => runtime.run('lookup@1', { index: [i] })));

    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.outputs.value[0]] : []))).toEqual([
      10, 20, 30, 20,
    ]);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/out of data bounds/);
    expect(await requests('lookup@1', 'failed')).toBe(1);
    expect(await requests('lookup@1', 'ok')).toBe(4);
  });

  it('rejects a row that does not fit the model before it reaches a batch', async () => {
    await runtime.load('sum@check', weightedSumModel([1, 1, 1]));
    const settled = await Promise.allSettled([
      runtime.run('sum@check', { x: [1, 2, 3] }),
      runtime.run('sum@check', { x: [1, 2] }),
      runtime.run('sum@check', { z: [1, 2, 3] }),
    ]);
    expect(settled[0]).toMatchObject({ status: 'fulfilled', value: { outputs: { y: [6] } } });
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidInputError);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/"x" needs 3 values, got 2/);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/"x" needs 3 values, got none/);
    expect(await batches('sum@check')).toEqual({ runs: 1, rows: 1 });

    await runtime.load('lookup@check', lookupModel());
    await expect(runtime.run('lookup@check', { index: [1.5] })).rejects.toThrow(/must be an integer/);
  });

  it('swaps a model without dropping a request: queued ones finish on the old session', async () => {
    const original = sessions.release;
    const release = jest.spyOn(sessions, 'release');
    // A long queue delay keeps the first requests waiting in the old model's queue during the swap.
    await runtime.load('swap@1', weightedSumModel([1, 0, 0]), {
      batching: { maxQueueDelayMicroseconds: 1_000_000 },
    });
    let answeredByOld = 0;
    const before = rows(8).map((row) =>
      runtime.run('swap@1', { x: row }).then((result) => {
        answeredByOld += 1;
        return result;
      }),
    );
    let answeredAtRelease: number | undefined;
    release.mockImplementationOnce(function (this: ort.InferenceSession) {
      answeredAtRelease = answeredByOld;
      return original.call(this);
    });

    const swapped = runtime.load('swap@1', weightedSumModel([0, 1, 0]));
    const during = runtime.run('swap@1', { x: [5, 6, 7] }); // the new session is not ready yet
    await swapped;
    const after = await runtime.run('swap@1', { x: [5, 6, 7] });

    expect((await Promise.all(before)).map((r) => r.outputs.y[0])).toEqual(rows(8).map((row) => row[0]));
    expect((await during).outputs.y).toEqual([5]);
    expect(after.outputs.y).toEqual([6]);
    expect(release).toHaveBeenCalledTimes(1);
    expect(answeredAtRelease).toBe(8);
    release.mockRestore();
  });

  it('unload lets requests in flight finish, releases the session, then refuses new ones', async () => {
    const release = jest.spyOn(sessions, 'release');
    await runtime.load('gone@1', weightedSumModel([1, 1, 1]));
    const inFlight = rows(3).map((row) => runtime.run('gone@1', { x: row }));
    await runtime.unload('gone@1');

    expect((await Promise.all(inFlight)).map((r) => r.outputs.y[0])).toEqual(
      rows(3).map((row) => expected(row, [1, 1, 1])),
    );
    expect(release).toHaveBeenCalledTimes(1);
    expect(runtime.status()).toEqual([]);
    expect(runtime.memoryUsage().models).toEqual([]);
    await expect(runtime.run('gone@1', { x: [1, 2, 3] })).rejects.toBeInstanceOf(ModelNotLoadedError);
    const info = await inferenceModelInfo.get();
    expect(info.values.filter((v) => v.labels.model === 'gone@1')).toEqual([]);
    release.mockRestore();
  });

  it('reports the memory of each loaded session and exports the provider it runs on', async () => {
    const bytes = weightedSumModel([1, 1, 1]);
    await runtime.load('mem@1', bytes);
    const usage = runtime.memoryUsage();
    expect(usage.processRssBytes).toBeGreaterThan(0);
    expect(usage.models).toEqual([
      { key: 'mem@1', modelBytes: bytes.byteLength, rssAtLoadBytes: expect.any(Number) },
    ]);
    const info = await inferenceModelInfo.get();
    expect(info.values).toContainEqual({
      labels: { model: 'mem@1', execution: 'cpu', provider: 'cpu' },
      value: 1,
    });
  });

  it('refuses a model whose warm-up fails, or whose rows have no fixed size, and releases it', async () => {
    const release = jest.spyOn(sessions, 'release');
    await expect(runtime.load('broken@1', lookupModel(5))).rejects.toBeInstanceOf(ModelWarmUpError);
    await expect(runtime.load('ragged@1', ragged())).rejects.toBeInstanceOf(UnsupportedModelError);
    await expect(runtime.load('ragged@1', ragged())).rejects.toThrow(/dimension 1 of input "x" is dynamic/);
    expect(release).toHaveBeenCalledTimes(3);
    expect(runtime.status()).toEqual([]);
    release.mockRestore();
  });
});

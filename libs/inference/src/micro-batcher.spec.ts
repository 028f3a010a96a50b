import { BatchPolicy, MicroBatcher } from './micro-batcher';

/** A batcher over a function that doubles numbers and fails on negative ones, recording each batch. */
function doubler(policy: Partial<BatchPolicy> = {}) {
  const batches: number[][] = [];
  const batcher = new MicroBatcher<number, number>(
    { maxBatchSize: 64, maxQueueDelayMicroseconds: 0, concurrency: 1, ...policy },
    async (inputs) => {
      batches.push(inputs);
      if (inputs.some((n) => n < 0)) throw new Error('negative');
      return inputs.map((n) => n * 2);
    },
  );
  return { batcher, batches };
}

describe('MicroBatcher', () => {
  it('takes the requests of one task as one batch', async () => {
    const { batcher, batches } = doubler();
    await expect(Promise.all([1, 2, 3].map((n) => batcher.submit(n)))).resolves.toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('batches what arrives while a run is in flight', async () => {
    const { batcher, batches } = doubler({ maxBatchSize: 2 });
    const answers = [1, 2, 3, 4, 5].map((n) => batcher.submit(n));
    await expect(Promise.all(answers)).resolves.toEqual([2, 4, 6, 8, 10]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('re-runs a failed batch row by row, so only the bad row fails', async () => {
    const { batcher, batches } = doubler();
    const settled = await Promise.allSettled([1, -1, 3].map((n) => batcher.submit(n)));
    expect(settled).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'rejected', reason: new Error('negative') },
      { status: 'fulfilled', value: 6 },
    ]);
    expect(batches).toEqual([[1, -1, 3], [1], [-1], [3]]);
  });

  it('keeps each answer with its own request when the queue is cut into batches and one fails', async () => {
    const { batcher, batches } = doubler({ maxBatchSize: 2 });
    const settled = await Promise.allSettled([1, 2, -3, 4, 5].map((n) => batcher.submit(n)));
    expect(settled).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'fulfilled', value: 4 },
      { status: 'rejected', reason: new Error('negative') },
      { status: 'fulfilled', value: 8 },
      { status: 'fulfilled', value: 10 },
    ]);
    expect(batches).toEqual([[1, 2], [-3, 4], [-3], [4], [5]]);
  });

  it('waits up to maxQueueDelayMicroseconds for company, and drain does not wait', async () => {
    const { batcher, batches } = doubler({ maxQueueDelayMicroseconds: 1_000_000 });
    const first = batcher.submit(1);
    await Promise.resolve();
    const second = batcher.submit(2);
    expect(batcher.waiting).toBe(2);
    await batcher.drain();
    await expect(Promise.all([first, second])).resolves.toEqual([2, 4]);
    expect(batches).toEqual([[1, 2]]);
  });

  it('drain resolves at once when idle', async () => {
    const { batcher } = doubler();
    await expect(batcher.drain()).resolves.toBeUndefined();
  });
});

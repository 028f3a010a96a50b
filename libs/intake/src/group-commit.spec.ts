import { GroupCommit } from './group-commit';

describe('GroupCommit', () => {
  /** A group commit whose first flush waits until `release()`; each flush answers value × 10. */
  function withGatedFirstFlush(options: { maxInFlight: number; maxBatch: number; lingerMs?: number }) {
    const flushes: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<number, number>(async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await gate;
      return items.map((value) => ({ status: 'fulfilled' as const, value: value * 10 }));
    }, options);
    return { commit, flushes, release };
  }

  it('sends items that arrive during a flush together in the next one, and answers each caller', async () => {
    const { commit, flushes, release } = withGatedFirstFlush({ maxInFlight: 1, maxBatch: 100 });
    const first = commit.submit(1);
    const rest = [2, 3, 4].map((n) => commit.submit(n));
    release();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(flushes).toEqual([[1], [2, 3, 4]]);
  });

  it('fails only the caller whose item failed', async () => {
    const commit = new GroupCommit<number, number>(
      async (items) =>
        items.map((n) =>
          n === 2
            ? { status: 'rejected' as const, reason: new Error('bad item') }
            : { status: 'fulfilled' as const, value: n },
        ),
      { maxInFlight: 1, maxBatch: 100 },
    );
    const results = await Promise.allSettled([1, 2, 3].map((n) => commit.submit(n)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('fails every caller of a batch whose flush threw, and keeps working after', async () => {
    let calls = 0;
    const commit = new GroupCommit<number, number>(
      async (items) => {
        if (calls++ === 0) throw new Error('database gone');
        return items.map((value) => ({ status: 'fulfilled' as const, value }));
      },
      { maxInFlight: 1, maxBatch: 100 },
    );
    await expect(commit.submit(1)).rejects.toThrow('database gone');
    await expect(commit.submit(2)).resolves.toBe(2);
  });

  it('settles once everything submitted so far is flushed', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const done: number[] = [];
    const commit = new GroupCommit<number, number>(
      async (items) => {
        await gate;
        done.push(...items);
        return items.map((value) => ({ status: 'fulfilled' as const, value }));
      },
      { maxInFlight: 2, maxBatch: 100 },
    );
    void commit.submit(1);
    void commit.submit(2);
    const settled = commit.settled().then(() => [...done]);
    release();
    expect((await settled).sort()).toEqual([1, 2]);
  });

  describe('with a linger', () => {
    const recording = (flushes: number[][]) => async (items: number[]) => {
      flushes.push(items);
      return items.map((value) => ({ status: 'fulfilled' as const, value }));
    };

    it('holds an item that finds nothing in flight for company, then flushes them together', async () => {
      const flushes: number[][] = [];
      const commit = new GroupCommit<number, number>(recording(flushes), {
        maxInFlight: 1,
        maxBatch: 100,
        lingerMs: 20,
      });
      const first = commit.submit(1);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(flushes).toEqual([]);
      const second = commit.submit(2);
      expect(await Promise.all([first, second])).toEqual([1, 2]);
      expect(flushes).toEqual([[1, 2]]);
    });

    it('flushes at once when the batch is full', async () => {
      const flushes: number[][] = [];
      const commit = new GroupCommit<number, number>(recording(flushes), {
        maxInFlight: 1,
        maxBatch: 3,
        lingerMs: 60_000,
      });
      expect(await Promise.all([1, 2, 3].map((n) => commit.submit(n)))).toEqual([1, 2, 3]);
      expect(flushes).toEqual([[1, 2, 3]]);
    });

    it('does not hold again what arrived during a flush', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate'] });
      try {
        const { commit, flushes, release } = withGatedFirstFlush({
          maxInFlight: 1,
          maxBatch: 100,
          lingerMs: 10,
        });
        const first = commit.submit(1);
        jest.advanceTimersByTime(10);
        expect(flushes).toEqual([[1]]);
        void commit.submit(2);
        release();
        await first;
        // No timer runs from here on: the second flush must follow the first by itself.
        await new Promise((resolve) => setImmediate(resolve));
        expect(flushes).toEqual([[1], [2]]);
      } finally {
        jest.useRealTimers();
      }
    });
  });
});

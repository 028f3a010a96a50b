import { LatencyTrend } from './latency-trend';

/** The verdict on the last of `latencies`, all of one kind. */
const lastSlow = (trend: LatencyTrend, latencies: number[], kind = 'batch') =>
  latencies.map((ms) => trend.slow(kind, ms, 3)).at(-1);

describe('LatencyTrend', () => {
  it('reads one late answer on a loaded machine as noise, not as the EHR slowing down', () => {
    expect(lastSlow(new LatencyTrend(), [100, 110, 95, 105, 100, 100, 450])).toBe(false);
  });

  it('reads answers that stay several times slower than usual as the EHR slowing down', () => {
    const trend = new LatencyTrend();
    lastSlow(trend, [100, 110, 95, 105, 100, 100]);
    const verdicts = [450, 450, 450, 450, 450].map((ms) => trend.slow('batch', ms, 3));
    expect(verdicts[0]).toBe(false);
    expect(verdicts.slice(3)).toEqual([true, true]);
  });

  it('times each kind of request against its own usual: a transaction is not a slow read', () => {
    const trend = new LatencyTrend();
    for (let i = 0; i < 10; i++) {
      expect(trend.slow('batch', 20, 3)).toBe(false);
      expect(trend.slow('transaction', 120, 3)).toBe(false);
    }
  });

  it('keeps answers spread widely by a busy machine from looking like a slowdown', () => {
    const trend = new LatencyTrend();
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const verdicts = Array.from({ length: 500 }, () => trend.slow('batch', 100 + random() * 400, 3));
    expect(verdicts.filter(Boolean)).toEqual([]);
  });

  it('follows a lasting change: the slower latency becomes the usual one', () => {
    const trend = new LatencyTrend();
    lastSlow(trend, Array(10).fill(100));
    expect(lastSlow(trend, Array(300).fill(450))).toBe(false);
  });

  it('never counts answers of tens of milliseconds as slow', () => {
    expect(lastSlow(new LatencyTrend(), [2, 2, 2, 2, 2, 40, 40, 40, 40, 40])).toBe(false);
  });
});

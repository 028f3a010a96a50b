/** Answers this quick are noise (a busy event loop, a GC pause), never an EHR slowing down. */
const NOISE_FLOOR_MS = 50;
/** Answers seen of a kind before any can count as slow: one answer is no trend. */
const WARM_UP = 4;
/** Weight of each answer in the smoothed latency: about the last four answers. */
const SMOOTHING = 0.25;
/** How fast the baseline follows a smoothed latency above it: a lasting change, over a few hundred answers. */
const BASELINE_RISE = 0.01;

interface Trend {
  answers: number;
  smoothedMs: number;
  baselineMs: number;
}

/**
 * Whether an EHR is slowing down, per kind of request (a read, a search, a batch, a transaction):
 * each has its own usual latency, so a transaction is never measured against the quickest read.
 * A smoothed latency (an EWMA over the last few answers) is compared with a slow-moving baseline,
 * so one late answer on a loaded machine is not read as the EHR slowing down; a few are.
 */
export class LatencyTrend {
  private readonly kinds = new Map<string, Trend>();

  /** Takes one answer's latency in; true when answers of this kind are now `slowFactor` times slower than usual. */
  slow(kind: string, latencyMs: number, slowFactor: number): boolean {
    const trend = this.kinds.get(kind);
    if (!trend) {
      this.kinds.set(kind, { answers: 1, smoothedMs: latencyMs, baselineMs: latencyMs });
      return false;
    }
    trend.answers++;
    trend.smoothedMs += (latencyMs - trend.smoothedMs) * SMOOTHING;
    // Down at once to a quicker usual, up slowly: a lasting slowdown becomes the new usual.
    trend.baselineMs =
      trend.smoothedMs < trend.baselineMs
        ? trend.smoothedMs
        : trend.baselineMs + (trend.smoothedMs - trend.baselineMs) * BASELINE_RISE;
    return (
      trend.answers > WARM_UP &&
      trend.smoothedMs > NOISE_FLOOR_MS &&
      trend.smoothedMs > slowFactor * Math.max(trend.baselineMs, 1)
    );
  }
}

import {
  flushBeforeRead,
  inferenceBatchSize,
  inferenceRequestsTotal,
  inferenceSeconds,
} from '@aegle/telemetry';

/** Runs recorded before the buffer goes to prom-client even if nobody reads the metrics. */
const CAPACITY = 256;

/**
 * One loaded model's per-run metrics: each run's time and size, and the requests it answered.
 * prom-client's `observe` and `inc` cost a few µs when called once per run amid the run's other
 * work, a measurable share of a 64-row run of the reference models (about 0.5 µs a row); so runs
 * are written to a typed array and handed to prom-client together, before every read of these
 * metrics and whenever the buffer fills. Failures are rare and counted at once.
 */
export class RunMetrics {
  private readonly seconds: { observe(value: number): void };
  private readonly batchSize: { observe(value: number): void };
  private readonly ok: { inc(value?: number): void };
  private readonly failedRequests: { inc(value?: number): void };
  /** Seconds and rows of each run not handed over yet, in pairs. */
  private readonly pending = new Float64Array(2 * CAPACITY);
  private count = 0;
  private readonly unhook: () => void;

  constructor(model: string, provider: string) {
    const labels = { model, provider };
    this.seconds = inferenceSeconds.labels(labels);
    this.batchSize = inferenceBatchSize.labels({ model });
    this.ok = inferenceRequestsTotal.labels({ ...labels, outcome: 'ok' });
    this.failedRequests = inferenceRequestsTotal.labels({ ...labels, outcome: 'failed' });
    this.unhook = flushBeforeRead(() => this.flush());
  }

  /** A run that answered `rows` requests in `seconds`. */
  succeeded(seconds: number, rows: number): void {
    const at = 2 * this.count;
    this.pending[at] = seconds;
    this.pending[at + 1] = rows;
    if (++this.count === CAPACITY) this.flush();
  }

  /** A request that failed in onnxruntime. */
  failed(): void {
    this.failedRequests.inc();
  }

  /** Hands the buffered runs over and stops listening for reads: the model is gone. */
  close(): void {
    this.flush();
    this.unhook();
  }

  private flush(): void {
    let rows = 0;
    for (let at = 0; at < 2 * this.count; at += 2) {
      this.seconds.observe(this.pending[at]);
      this.batchSize.observe(this.pending[at + 1]);
      rows += this.pending[at + 1];
    }
    if (rows > 0) this.ok.inc(rows);
    this.count = 0;
  }
}

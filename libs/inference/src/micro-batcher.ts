/** How one model's requests are grouped and how many groups may run at once. */
export interface BatchPolicy {
  /** Most requests in one run; 1 disables batching. */
  maxBatchSize: number;
  /**
   * How long the oldest waiting request may wait for company (Triton's
   * `max_queue_delay_microseconds`). 0 coalesces the requests of one event-loop turn; Node timers
   * round anything else up to whole milliseconds.
   */
  maxQueueDelayMicroseconds: number;
  /** Most runs in flight at once; requests arriving meanwhile wait and form the next batch. */
  concurrency: number;
}

interface Pending<I, O> {
  input: I;
  resolve(output: O): void;
  reject(error: unknown): void;
}

/**
 * Coalesces concurrent single-row requests into batches (Triton's dynamic batching). A batch that
 * fails is re-run row by row, so a bad row fails only its own request.
 */
export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushQueued = false;
  private draining = false;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly policy: BatchPolicy,
    private readonly runBatch: (inputs: I[]) => Promise<O[]>,
  ) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.queue.length >= this.policy.maxBatchSize) this.dispatch();
      else if (this.timer === undefined && !this.flushQueued) this.schedule();
    });
  }

  /** Requests waiting for a batch. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs in progress. */
  get running(): number {
    return this.inFlight;
  }

  /** Starts everything waiting now and resolves once nothing waits or runs. */
  drain(): Promise<void> {
    this.draining = true;
    this.dispatch();
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    const delay = this.policy.maxQueueDelayMicroseconds;
    if (delay > 0) {
      this.timer = setTimeout(() => this.expire(), Math.ceil(delay / 1000));
    } else if (!this.flushQueued) {
      // No delay: take whatever the current task submits (a burst of requests, the continuations of
      // answered ones) as one batch, without paying an event-loop turn. Requests arriving while a
      // run is in flight wait for its slot and form the next batch, as in Triton.
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    this.dispatch();
  };

  private expire(): void {
    this.timer = undefined;
    this.dispatch();
  }

  private dispatch(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length > 0 && this.inFlight < this.policy.concurrency) {
      let batch: Pending<I, O>[];
      if (this.queue.length <= this.policy.maxBatchSize) {
        batch = this.queue;
        this.queue = [];
      } else {
        batch = this.queue.splice(0, this.policy.maxBatchSize);
      }
      this.inFlight += 1;
      void this.execute(batch);
    }
  }

  private async execute(batch: Pending<I, O>[]): Promise<void> {
    try {
      const outputs = await this.runBatch(batch.map((p) => p.input));
      for (let i = 0; i < batch.length; i++) batch[i].resolve(outputs[i]);
      this.release();
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        this.release();
        return;
      }
      // Find the culprit: each row alone, in this run's slot, so the others still get their answer.
      for (const pending of batch) {
        try {
          const [output] = await this.runBatch([pending.input]);
          pending.resolve(output);
        } catch (rowError) {
          pending.reject(rowError);
        }
      }
      this.release();
    }
  }

  /** Frees a run slot: the requests that queued meanwhile form the next batch at once. */
  private release(): void {
    this.inFlight -= 1;
    if (this.queue.length > 0) {
      // Their delay has passed unless a timer still runs for them.
      if (this.draining || this.timer === undefined || this.queue.length >= this.policy.maxBatchSize) {
        this.dispatch();
      }
    } else if (this.inFlight === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }
}

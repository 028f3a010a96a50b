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

/** Requests taken together: inputs and their promises' settle functions, index for index. */
interface Batch<I, O> {
  inputs: I[];
  resolvers: Array<(output: O) => void>;
  rejecters: Array<(error: unknown) => void>;
}

/**
 * Coalesces concurrent single-row requests into batches (Triton's dynamic batching). A batch that
 * fails is re-run row by row, so a bad row fails only its own request.
 *
 * Per request this allocates the caller's promise and nothing else (no closure, no record): at a
 * few hundred nanoseconds of onnxruntime per row, each allocation shows in the throughput.
 */
export class MicroBatcher<I, O> {
  private queue: Batch<I, O> = emptyBatch();
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
    const queue = this.queue;
    queue.inputs.push(input);
    const answer = new Promise<O>(this.enqueue);
    if (queue.inputs.length >= this.policy.maxBatchSize) this.dispatch();
    else if (this.timer === undefined && !this.flushQueued) this.schedule();
    return answer;
  }

  /** The one promise executor of every request: files its settle functions beside its input. */
  private readonly enqueue = (resolve: (output: O) => void, reject: (error: unknown) => void): void => {
    this.queue.resolvers.push(resolve);
    this.queue.rejecters.push(reject);
  };

  /** Requests waiting for a batch. */
  get waiting(): number {
    return this.queue.inputs.length;
  }

  /** Runs in progress. */
  get running(): number {
    return this.inFlight;
  }

  /** Starts everything waiting now and resolves once nothing waits or runs. */
  drain(): Promise<void> {
    this.draining = true;
    this.dispatch();
    if (this.queue.inputs.length === 0 && this.inFlight === 0) return Promise.resolve();
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
      // (A settled promise's reaction, not queueMicrotask: Node wraps each of those in an
      // AsyncResource, a cost per batch that shows at these speeds.)
      this.flushQueued = true;
      void SETTLED.then(this.flush);
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
    const max = this.policy.maxBatchSize;
    while (this.queue.inputs.length > 0 && this.inFlight < this.policy.concurrency) {
      let batch: Batch<I, O>;
      if (this.queue.inputs.length <= max) {
        batch = this.queue;
        this.queue = emptyBatch();
      } else {
        const { inputs, resolvers, rejecters } = this.queue;
        batch = {
          inputs: inputs.splice(0, max),
          resolvers: resolvers.splice(0, max),
          rejecters: rejecters.splice(0, max),
        };
      }
      this.inFlight += 1;
      void this.execute(batch);
    }
  }

  private async execute({ inputs, resolvers, rejecters }: Batch<I, O>): Promise<void> {
    try {
      const outputs = await this.runBatch(inputs);
      for (let i = 0; i < resolvers.length; i++) resolvers[i](outputs[i]);
    } catch (error) {
      if (inputs.length === 1) {
        rejecters[0](error);
      } else {
        // Find the culprit: each row alone, in this run's slot, so the others still get their answer.
        for (let i = 0; i < inputs.length; i++) {
          try {
            const [output] = await this.runBatch([inputs[i]]);
            resolvers[i](output);
          } catch (rowError) {
            rejecters[i](rowError);
          }
        }
      }
    }
    this.release();
  }

  /** Frees a run slot: the requests that queued meanwhile form the next batch at once. */
  private release(): void {
    this.inFlight -= 1;
    const waiting = this.queue.inputs.length;
    if (waiting > 0) {
      // Their delay has passed unless a timer still runs for them.
      if (this.draining || this.timer === undefined || waiting >= this.policy.maxBatchSize) {
        this.dispatch();
      }
    } else if (this.inFlight === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }
}

const SETTLED = Promise.resolve();

function emptyBatch<I, O>(): Batch<I, O> {
  return { inputs: [], resolvers: [], rejecters: [] };
}

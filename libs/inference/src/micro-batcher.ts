export interface BatchOptions {
  /** Most rows in one run; 1 disables batching. */
  maxBatchSize: number;
  /** How long the first waiting row may wait for company, in ms; 0 coalesces within one event-loop turn. */
  maxDelayMs: number;
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
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(
    private readonly options: BatchOptions,
    private readonly runBatch: (inputs: I[]) => Promise<O[]>,
  ) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.queue.length >= this.options.maxBatchSize) this.flush();
      else this.schedule();
    });
  }

  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer =
      this.options.maxDelayMs > 0
        ? setTimeout(() => this.flush(), this.options.maxDelayMs)
        : setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatchSize);
      void this.execute(batch);
    }
  }

  private async execute(batch: Pending<I, O>[]): Promise<void> {
    try {
      const outputs = await this.runBatch(batch.map((p) => p.input));
      batch.forEach((p, i) => p.resolve(outputs[i]));
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error);
      // Find the culprit: each row alone, so the others still get their answer.
      await Promise.all(batch.map((p) => this.execute([p])));
    }
  }
}

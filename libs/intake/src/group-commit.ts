/**
 * Group commit: items submitted while a flush is in flight wait and go together in the next flush,
 * so concurrent requests share one round trip. Each caller's promise settles only once its own
 * item's flush has finished.
 */
export class GroupCommit<T, R> {
  private waiting: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;
  private lingering: NodeJS.Timeout | undefined;
  private readonly unsettled = new Set<Promise<unknown>>();

  constructor(
    /** Settles each item on its own, so one bad item fails only its own caller. */
    private readonly flush: (items: T[]) => Promise<PromiseSettledResult<R>[]>,
    private readonly options: {
      maxInFlight: number;
      maxBatch: number;
      /**
       * How long an item that finds nothing in flight waits for company before it is flushed (0:
       * not at all). For work nobody waits on: under light, steady load each item would otherwise
       * be flushed alone, paying a round trip's fixed cost each.
       */
      lingerMs?: number;
    },
  ) {}

  submit(item: T): Promise<R> {
    const result = new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
    const tracked = result.then(
      () => undefined,
      () => undefined,
    );
    this.unsettled.add(tracked);
    void tracked.then(() => this.unsettled.delete(tracked));
    return result;
  }

  /** Resolves once every item submitted so far has been flushed (later ones are not waited for). */
  async settled(): Promise<void> {
    await Promise.all([...this.unsettled]);
  }

  private pump(): void {
    const linger = this.options.lingerMs ?? 0;
    if (linger > 0 && this.inFlight === 0 && this.waiting.length < this.options.maxBatch) {
      this.lingering ??= setTimeout(() => {
        this.lingering = undefined;
        this.flushWaiting();
      }, linger);
      return;
    }
    clearTimeout(this.lingering);
    this.lingering = undefined;
    this.flushWaiting();
  }

  private flushWaiting(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.options.maxBatch);
      this.inFlight++;
      this.flush(batch.map((b) => b.item))
        .then(
          (results) =>
            batch.forEach((b, i) => {
              const result = results[i];
              if (result.status === 'fulfilled') b.resolve(result.value);
              else b.reject(result.reason);
            }),
          (error: unknown) => batch.forEach((b) => b.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          // What came in meanwhile has waited already: no lingering for it.
          this.flushWaiting();
        });
    }
  }
}

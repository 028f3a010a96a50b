/**
 * Group commit: items submitted while a flush is in flight wait and go together in the next flush,
 * so concurrent requests share one database round trip without anyone waiting on a timer. Each
 * caller's promise settles only once its own item's flush has finished.
 */
export class GroupCommit<T, R> {
  private waiting: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;

  constructor(
    /** Settles each item on its own, so one bad item fails only its own caller. */
    private readonly flush: (items: T[]) => Promise<PromiseSettledResult<R>[]>,
    private readonly options: { maxInFlight: number; maxBatch: number },
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
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
          this.pump();
        });
    }
  }
}

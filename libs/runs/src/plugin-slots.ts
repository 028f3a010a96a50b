import { Injectable } from '@nestjs/common';

export type ReleaseSlot = () => void;

/** Per plugin version, how many of its runs may be in progress at once in this process. */
@Injectable()
export class PluginSlots {
  private readonly busy = new Map<string, number>();
  private readonly waiting = new Map<string, Array<(release: ReleaseSlot) => void>>();
  /** How long a run has held its slot lately (an EWMA, ms), per plugin version. */
  private readonly heldMs = new Map<string, number>();

  /** A release function when a slot is free, else undefined (the caller retries later). */
  tryAcquire(key: string, limit: number): ReleaseSlot | undefined {
    const used = this.busy.get(key) ?? 0;
    if (used >= limit) return undefined;
    this.busy.set(key, used + 1);
    return this.releaser(key);
  }

  /**
   * A slot now, or the next one freed when fewer than `maxWaiting` callers already wait for one
   * (first come, first served); undefined when the queue is full too (the caller retries later).
   */
  acquire(key: string, limit: number, maxWaiting: number): Promise<ReleaseSlot> | undefined {
    const free = this.tryAcquire(key, limit);
    if (free) return Promise.resolve(free);
    const queue = this.waiting.get(key) ?? [];
    if (queue.length >= maxWaiting) return undefined;
    this.waiting.set(key, queue);
    return new Promise((resolve) => queue.push(resolve));
  }

  waitingFor(key: string): number {
    return this.waiting.get(key)?.length ?? 0;
  }

  /**
   * About how long a run turned away now would wait for a slot: the runs in line ahead of it, served
   * `limit` at a time at the recent pace of a run (0 before any has finished).
   */
  expectedWaitMs(key: string, limit: number): number {
    return ((this.waitingFor(key) + 1) / limit) * (this.heldMs.get(key) ?? 0);
  }

  private releaser(key: string): ReleaseSlot {
    let released = false;
    const since = performance.now();
    return () => {
      if (released) return;
      released = true;
      const held = performance.now() - since;
      const recent = this.heldMs.get(key);
      this.heldMs.set(key, recent === undefined ? held : recent + (held - recent) * 0.2);
      // A waiter takes the slot over as it is: the count stays the same.
      const next = this.waiting.get(key)?.shift();
      if (next) return next(this.releaser(key));
      this.waiting.delete(key);
      const left = (this.busy.get(key) ?? 1) - 1;
      if (left > 0) this.busy.set(key, left);
      else this.busy.delete(key);
    };
  }

  inUse(key: string): number {
    return this.busy.get(key) ?? 0;
  }
}

export class RunTimeoutError extends Error {
  override name = 'RunTimeoutError';
}

/**
 * Resolves or rejects with the work, or rejects with a {@link RunTimeoutError} once `ms` of its own
 * time has passed: time `excludedMs` reports (waiting for the EHR) does not count, so a slow EHR
 * makes a run wait, not fail. The EHR's requests have their own timeout.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, excludedMs: () => number = () => 0): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  const timeout = new Promise<never>((_, reject) => {
    const arm = (delay: number) => {
      timer = setTimeout(() => {
        const used = performance.now() - started - excludedMs();
        if (used >= ms) reject(new RunTimeoutError(`timed out after ${ms} ms`));
        else arm(ms - used);
      }, delay);
    };
    arm(ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Wall time during which at least one of a run's EHR requests was in progress (or waiting its turn). */
export class EhrClock {
  private pending = 0;
  private since = 0;
  private total = 0;

  elapsedMs(): number {
    return this.total + (this.pending > 0 ? performance.now() - this.since : 0);
  }

  /** The same client, its requests timed on this clock. */
  timed<C extends object>(client: C): C {
    return new Proxy(client, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result: unknown = value.apply(target, args);
          return result instanceof Promise ? this.time(result) : result;
        };
      },
    });
  }

  private async time<T>(request: Promise<T>): Promise<T> {
    if (this.pending++ === 0) this.since = performance.now();
    try {
      return await request;
    } finally {
      if (--this.pending === 0) this.total += performance.now() - this.since;
    }
  }
}

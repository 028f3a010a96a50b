import { Injectable } from '@nestjs/common';

/** Per plugin version, how many of its runs may be in progress at once in this process. */
@Injectable()
export class PluginSlots {
  private readonly busy = new Map<string, number>();

  /** A release function when a slot is free, else undefined (the caller retries later). */
  tryAcquire(key: string, limit: number): (() => void) | undefined {
    const used = this.busy.get(key) ?? 0;
    if (used >= limit) return undefined;
    this.busy.set(key, used + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
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

/** Resolves or rejects with the work, or rejects with a {@link RunTimeoutError} after `ms`. */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RunTimeoutError(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/**
 * W3C Trace Context (`traceparent`) carried through Aegle: from the EHR's notification to every
 * job it causes and every request Aegle makes back to the EHR, so one id finds a whole story in
 * the logs of every process. Only ids travel here, never clinical data.
 */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const storage = new AsyncLocalStorage<string>();

/** The trace id of a valid `traceparent`, or undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = TRACEPARENT.exec(traceparent?.trim().toLowerCase() ?? '');
  return match && !/^0+$/.test(match[1]) ? match[1] : undefined;
}

/**
 * Random bytes drawn a few kilobytes at a time: ids are made for every request, and one
 * `randomBytes` call per id was a visible share of a request's cost.
 */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

function randomHex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomOffset = 0;
  }
  randomOffset += bytes;
  return randomPool.toString('hex', randomOffset - bytes, randomOffset);
}

/** A `traceparent` in the given trace (or a new one) with a fresh span id. */
export function childTraceparent(parent?: string): string {
  const traceId = traceIdOf(parent) ?? randomHex(16);
  return `00-${traceId}-${randomHex(8)}-01`;
}

/** Runs `work` with `traceparent` as the current trace. */
export function withTrace<T>(traceparent: string | undefined, work: () => T): T {
  return storage.run(traceparent ?? childTraceparent(), work);
}

/** The current `traceparent`, if any work above set one. */
export function currentTraceparent(): string | undefined {
  return storage.getStore();
}

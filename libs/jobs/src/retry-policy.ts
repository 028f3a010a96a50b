import { WriteBackConfig } from '@aegle/config';

/**
 * Exponential backoff with "equal jitter": half the doubled delay is fixed, half random, so retries
 * from many jobs spread out but none comes back at once. A Retry-After from the EHR wins when longer.
 */
export function retryDelayMs(
  attempt: number,
  policy: Pick<WriteBackConfig, 'backoffBaseMs' | 'backoffMaxMs'>,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}

/** Carries the delay the processor chose to BullMQ's backoff strategy (see {@link writebackBackoff}). */
export interface DelayedRetry {
  retryDelayMs?: number;
}

/** BullMQ custom backoff for write-back jobs: the processor has already computed the delay. */
export function writebackBackoff(attemptsMade: number, _type?: string, error?: Error): number {
  const chosen = (error as (Error & DelayedRetry) | undefined)?.retryDelayMs;
  return chosen ?? retryDelayMs(attemptsMade, { backoffBaseMs: 1_000, backoffMaxMs: 15 * 60_000 });
}

/** Plugin runs: 500 ms, doubling (8 attempts span about a minute), without jitter. */
const RUN_RETRY = { backoffBaseMs: 500, backoffMaxMs: 15 * 60_000 };

/**
 * BullMQ custom backoff for plugin-run jobs: BullMQ's own exponential one, but never sooner than the
 * `Retry-After` of an EHR that answered 429 or 503 (an EhrRequestError carries it).
 */
export function runBackoff(attemptsMade: number, _type?: string, error?: Error): number {
  const retryAfterMs = (error as (Error & { retryAfterMs?: number }) | undefined)?.retryAfterMs;
  return retryDelayMs(attemptsMade, RUN_RETRY, retryAfterMs, () => 1);
}

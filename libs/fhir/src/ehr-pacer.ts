import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { PacingConfig } from '@aegle/config';
import { ehrConcurrencyCap, ehrInFlight, ehrQueueWaitSeconds } from '@aegle/telemetry';

/** How a request to the EHR went, for the cap: how long it took, and whether the EHR said it was busy. */
export interface RequestOutcome {
  latencyMs: number;
  /** 429 or 503, on the request or inside a batch's entries. */
  busy: boolean;
  retryAfterMs?: number;
}

export interface EhrPermit {
  /** Gives the slot back and tells the cap how the request went. */
  done(outcome: RequestOutcome): void;
}

/** Paces the requests to each source's EHR; {@link EhrClient} asks it before every request. */
export interface EhrPacer {
  /** Waits for a slot under the source's cap and, with a budget, for `cost` requests of it. */
  acquire(sourceId: string, pacing: PacingConfig, cost: number): Promise<EhrPermit>;
  close(): Promise<void>;
}

/** Without a Redis (the CLI's one-off requests): no pacing. */
export const UNPACED: EhrPacer = {
  acquire: () => Promise.resolve({ done: () => undefined }),
  close: () => Promise.resolve(),
};

/** A busy answer without Retry-After still stops every process for this long. */
const BUSY_PAUSE_MS = 1_000;
/**
 * The budget's window is kept this much longer than configured: a request granted at the end of one
 * window may reach the EHR in its next, and the EHR's windows need not line up with Aegle's.
 */
const BUDGET_TRANSIT_MS = 500;
/** How long a request waits for Redis to come up before it goes unpaced. */
const CONNECT_WAIT_MS = 2_000;
/** How often a waiting process asks again when it was not told when to. */
const POLL_MS = 15;

/**
 * Takes a slot: drops leases that ran out (a process that died holding one), refuses while the EHR
 * asked for a pause, when the cap is reached, or when the request budget's sliding window has no room
 * for `cost` more (then says how long until it has). Times come from Redis, so every process agrees.
 * Returns {granted, waitMs, cap, inFlight}.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local cap = tonumber(redis.call('HGET', KEYS[2], 'cap') or ARGV[4])
cap = math.min(cap, tonumber(ARGV[4]))
local inflight = redis.call('ZCARD', KEYS[1])
local paused = tonumber(redis.call('HGET', KEYS[2], 'pausedUntil') or '0')
if paused > now then return {0, paused - now, tostring(cap), inflight} end
if inflight >= math.max(1, math.floor(cap)) then return {0, 0, tostring(cap), inflight} end
local budget = tonumber(ARGV[5])
if budget > 0 then
  local window = tonumber(ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
  local used = redis.call('ZCARD', KEYS[3])
  local cost = math.min(tonumber(ARGV[3]), budget)
  if used + cost > budget then
    local freed = redis.call('ZRANGE', KEYS[3], used + cost - budget - 1, used + cost - budget - 1, 'WITHSCORES')
    return {0, tonumber(freed[2]) + window - now + 1, tostring(cap), inflight}
  end
  for i = 1, cost do redis.call('ZADD', KEYS[3], now, ARGV[1] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[3], window * 2)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return {1, 0, tostring(cap), inflight + 1}`;

/**
 * Gives a slot back and moves the cap, AIMD: one quick answer adds 1/cap (about one more slot per
 * round of answers), a slow or busy one halves it, at most once per round (a burst of slow answers
 * is one signal). A busy EHR's Retry-After pauses every process. Returns the new cap.
 */
const RELEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
local maxCap = tonumber(ARGV[3])
local minCap = tonumber(ARGV[4])
local cap = math.min(tonumber(redis.call('HGET', KEYS[2], 'cap') or ARGV[3]), maxCap)
if ARGV[2] == 'quick' then
  cap = math.min(maxCap, cap + 1 / math.max(1, cap))
else
  local last = tonumber(redis.call('HGET', KEYS[2], 'decreasedAt') or '0')
  if now - last >= tonumber(ARGV[6]) then
    cap = math.max(minCap, cap / 2)
    redis.call('HSET', KEYS[2], 'decreasedAt', now)
  end
  local pause = tonumber(ARGV[5])
  if pause > 0 then
    local paused = tonumber(redis.call('HGET', KEYS[2], 'pausedUntil') or '0')
    if now + pause > paused then redis.call('HSET', KEYS[2], 'pausedUntil', now + pause) end
  end
end
redis.call('HSET', KEYS[2], 'cap', tostring(cap))
return tostring(cap)`;

interface PacingCommands {
  ehrAcquire(...args: Array<string | number>): Promise<[number, number, string, number]>;
  ehrRelease(...args: Array<string | number>): Promise<string>;
}

/** Per source, what this process needs: its waiters in line, and the quickest recent answer. */
class SourceLine {
  /** The waiters of this process, first come first served; only the first asks Redis. */
  tail: Promise<void> = Promise.resolve();
  /** Wakes the waiter at the head when this process frees a slot. */
  wake: (() => void) | undefined;
  /** The quickest recent answer, rising slowly so that it follows a lasting change. */
  quickestMs: number | undefined;
}

/**
 * The per-source pacing every Aegle process shares, kept in Redis: an adaptive cap on requests in
 * flight (AIMD between the source's `minInFlight` and `maxInFlight`), a pause when the EHR answers
 * 429/503 (its Retry-After, else a second), and an optional request budget over a sliding window,
 * so that no window of the EHR's quota ever sees more than the budget. Leases expire, so a process
 * that dies holding slots does not shrink the cap for good.
 */
export class RedisEhrPacer implements EhrPacer {
  private readonly redis: Redis & PacingCommands;
  private readonly lines = new Map<string, SourceLine>();

  constructor(
    redisUrl: string,
    private readonly prefix: string,
    /** A slot is held at most this long (a request's own timeout, plus a margin). */
    private readonly leaseMs: (sourceId: string) => number,
  ) {
    // Without Redis the EHR is not left waiting on it: a command fails at once and the request goes unpaced.
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false }) as Redis &
      PacingCommands;
    this.redis.on('error', () => undefined); // reconnects on its own; a failed command says the rest
    this.redis.defineCommand('ehrAcquire', { numberOfKeys: 3, lua: ACQUIRE });
    this.redis.defineCommand('ehrRelease', { numberOfKeys: 2, lua: RELEASE });
  }

  async acquire(sourceId: string, pacing: PacingConfig, cost: number): Promise<EhrPermit> {
    const line = this.lineOf(sourceId);
    const started = performance.now();
    // Wait for this process's earlier waiters, then ask Redis until a slot is granted.
    const previous = line.tail;
    let leave!: () => void;
    line.tail = new Promise<void>((resolve) => (leave = resolve));
    await previous;
    const token = randomUUID();
    const keys = this.keys(sourceId);
    try {
      for (;;) {
        const answer = await this.connected()
          .then(() =>
            this.redis.ehrAcquire(
              ...keys,
              token,
              this.leaseMs(sourceId),
              cost,
              pacing.maxInFlight,
              pacing.requestBudget?.requests ?? 0,
              pacing.requestBudget ? pacing.requestBudget.perSeconds * 1000 + BUDGET_TRANSIT_MS : 0,
            ),
          )
          .catch(() => undefined);
        if (!answer) return UNPACED.acquire(sourceId, pacing, cost);
        const [granted, waitMs, cap, inFlight] = answer;
        ehrConcurrencyCap.set({ source: sourceId }, Number(cap));
        ehrInFlight.set({ source: sourceId }, inFlight);
        if (granted === 1) break;
        // Asked to wait a known time (a pause, the budget), or until a slot frees: a slot freed by this
        // process wakes it at once, one freed by another is seen at the next poll.
        const wait = waitMs > 0 ? waitMs : POLL_MS * (0.5 + Math.random());
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          line.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        line.wake = undefined;
      }
    } finally {
      leave();
    }
    ehrQueueWaitSeconds.observe({ source: sourceId }, (performance.now() - started) / 1000);
    let released = false;
    return {
      done: (outcome) => {
        if (released) return;
        released = true;
        void this.release(sourceId, pacing, token, outcome);
      },
    };
  }

  /**
   * Commands are not queued while Redis is away (the EHR must not wait on it), so a new connection
   * is given a moment to come up; after that a request goes unpaced rather than waiting.
   */
  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await Promise.race([once(this.redis, 'ready'), sleep(CONNECT_WAIT_MS)]);
  }

  private async release(sourceId: string, pacing: PacingConfig, token: string, outcome: RequestOutcome) {
    const line = this.lineOf(sourceId);
    const quickest = line.quickestMs;
    line.quickestMs =
      quickest === undefined || outcome.latencyMs < quickest
        ? outcome.latencyMs
        : quickest + (outcome.latencyMs - quickest) * 0.01;
    // Tens of milliseconds are noise, not an EHR slowing down.
    const slow =
      quickest !== undefined &&
      outcome.latencyMs > 50 &&
      outcome.latencyMs > pacing.slowFactor * Math.max(quickest, 1);
    const signal = outcome.busy ? 'busy' : slow ? 'slow' : 'quick';
    const pause = outcome.busy ? (outcome.retryAfterMs ?? BUSY_PAUSE_MS) : 0;
    try {
      await this.connected();
      const [inFlight, state] = this.keys(sourceId);
      const cap = await this.redis.ehrRelease(
        inFlight,
        state,
        token,
        signal,
        pacing.maxInFlight,
        pacing.minInFlight,
        pause,
        Math.max(Math.round(outcome.latencyMs), 100),
      );
      ehrConcurrencyCap.set({ source: sourceId }, Number(cap));
    } catch {
      // Redis unreachable: the lease runs out on its own.
    }
    line.wake?.();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private lineOf(sourceId: string): SourceLine {
    let line = this.lines.get(sourceId);
    if (!line) this.lines.set(sourceId, (line = new SourceLine()));
    return line;
  }

  private keys(sourceId: string): [string, string, string] {
    const base = `${this.prefix}:ehr-pacing:${sourceId}`;
    return [`${base}:in-flight`, `${base}:state`, `${base}:budget`];
  }
}

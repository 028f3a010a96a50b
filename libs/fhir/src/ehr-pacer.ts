import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { PacingConfig } from '@aegle/config';
import { ehrConcurrencyCap, ehrInFlight, ehrQueueWaitSeconds } from '@aegle/telemetry';
import { LatencyTrend } from './latency-trend';

/** How a request to the EHR went, for the cap: how long it took, and whether the EHR said it was busy. */
export interface RequestOutcome {
  latencyMs: number;
  /** 429 or 503, on the request or inside a batch's entries. */
  busy: boolean;
  retryAfterMs?: number;
  /** What kind of request it was ('batch', 'read Patient'): each kind is timed against its own usual. */
  kind?: string;
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
 * One round trip for what this process has to tell and to ask: first the slots it gives back (each
 * with how its request went), then, when ARGV[1] names a token, a slot for a new request.
 *
 * Giving back moves the cap, AIMD: one quick answer adds 1/cap (about one more slot per round of
 * answers), a slow or busy one halves it, at most once per round (a burst of slow answers is one
 * signal). A busy EHR's Retry-After pauses every process.
 *
 * Taking drops leases that ran out (a process that died holding one), refuses while the EHR asked
 * for a pause, when the cap is reached, or when the request budget's sliding window has no room for
 * `cost` more (then says how long until it has). Times come from Redis, so every process agrees.
 * Returns {granted, waitMs, cap, inFlight}.
 */
const PACE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxCap = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[2], 'cap', 'pausedUntil', 'decreasedAt')
local cap = math.min(tonumber(state[1] or ARGV[4]), maxCap)
local paused = tonumber(state[2] or '0')
local given = tonumber(ARGV[8])
if given > 0 then
  local minCap = tonumber(ARGV[7])
  local last = tonumber(state[3] or '0')
  local tokens = {}
  for i = 0, given - 1 do
    local at = 9 + i * 4
    tokens[#tokens + 1] = ARGV[at]
    if ARGV[at + 1] == 'quick' then
      cap = math.min(maxCap, cap + 1 / math.max(1, cap))
    else
      if now - last >= tonumber(ARGV[at + 3]) then
        cap = math.max(minCap, cap / 2)
        last = now
        redis.call('HSET', KEYS[2], 'decreasedAt', now)
      end
      local pause = tonumber(ARGV[at + 2])
      if pause > 0 and now + pause > paused then
        paused = now + pause
        redis.call('HSET', KEYS[2], 'pausedUntil', paused)
      end
    end
  end
  redis.call('ZREM', KEYS[1], unpack(tokens))
  redis.call('HSET', KEYS[2], 'cap', tostring(cap))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local inflight = redis.call('ZCARD', KEYS[1])
if ARGV[1] == '' then return {0, 0, tostring(cap), inflight} end
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

interface PacingCommands {
  ehrPace(...args: Array<string | number>): Promise<[number, number, string, number]>;
}

type Signal = 'quick' | 'slow' | 'busy';

/** A slot given back and how its request went, told to Redis with this process's next round trip. */
interface GivenBack {
  token: string;
  signal: Signal;
  pauseMs: number;
  /** A round of answers, for "at most one halving per round". */
  roundMs: number;
}

/**
 * How long a slot given back after a quick answer waits for a round trip to ride along with (the
 * next request's ask, or other slots given back), while the cap has room: it then holds up nobody.
 */
const GIVE_BACK_LINGER_MS = 10;
/** Slots given back in one round trip, at most. */
const MAX_GIVEN_BACK = 64;

/** Per source, what this process needs: its waiters in line, its slots to give back, the latency trend. */
class SourceLine {
  /** The waiters of this process, first come first served; only the first asks Redis. */
  tail: Promise<void> = Promise.resolve();
  /** Wakes the waiter at the head when this process frees a slot. */
  wake: (() => void) | undefined;
  /** Requests of this process waiting for a slot (the head asking Redis, the rest in line behind it). */
  waiters = 0;
  readonly latency = new LatencyTrend();
  givenBack: GivenBack[] = [];
  giveBackTimer: NodeJS.Timeout | undefined;
  /** The source's pacing, as the last request asked with it (slots given back on their own use it). */
  pacing: PacingConfig | undefined;
  /** At Redis's last answer every slot under the cap was taken: one given back may be awaited elsewhere. */
  full = false;
  /** When Redis last answered (performance.now()). */
  answeredAt = 0;
}

/**
 * The per-source pacing every Aegle process shares, kept in Redis: an adaptive cap on requests in
 * flight (AIMD between the source's `minInFlight` and `maxInFlight`), a pause when the EHR answers
 * 429/503 (its Retry-After, else a second), and an optional request budget over a sliding window,
 * so that no window of the EHR's quota ever sees more than the budget. Leases expire, so a process
 * that dies holding slots does not shrink the cap for good.
 *
 * One round trip per request where it can: a slot given back after a quick answer is told to Redis
 * with the next request's ask (or with others, a few ms later), unless someone may be waiting for
 * it; a slow or busy answer is told at once.
 */
export class RedisEhrPacer implements EhrPacer {
  private readonly redis: Redis & PacingCommands;
  private readonly lines = new Map<string, SourceLine>();
  private closing = false;

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
    this.redis.defineCommand('ehrPace', { numberOfKeys: 3, lua: PACE });
  }

  async acquire(sourceId: string, pacing: PacingConfig, cost: number): Promise<EhrPermit> {
    const line = this.lineOf(sourceId);
    line.pacing = pacing;
    const started = performance.now();
    // Wait for this process's earlier waiters, then ask Redis until a slot is granted.
    const previous = line.tail;
    let leave!: () => void;
    line.tail = new Promise<void>((resolve) => (leave = resolve));
    line.waiters++;
    await previous;
    const token = randomUUID();
    try {
      // The request before it took the last slot just now: asking again would be refused.
      if (line.full && performance.now() - line.answeredAt < POLL_MS) await this.nap(line, 0);
      for (;;) {
        const answer = await this.pace(sourceId, line, pacing, { token, cost });
        if (!answer) return UNPACED.acquire(sourceId, pacing, cost);
        const [granted, waitMs] = answer;
        if (granted === 1) break;
        // Slots this process gave back while it asked: ask again at once, with them.
        if (line.givenBack.length === 0) await this.nap(line, waitMs);
      }
    } finally {
      leave();
      // Slots given back while it asked and not carried by its last ask: told by the next waiter, else here.
      if (--line.waiters === 0 && line.givenBack.length > 0) this.giveBackSoon(sourceId, line);
    }
    ehrQueueWaitSeconds.observe({ source: sourceId }, (performance.now() - started) / 1000);
    let released = false;
    return {
      done: (outcome) => {
        if (released) return;
        released = true;
        this.giveBack(sourceId, line, pacing, token, outcome);
      },
    };
  }

  /**
   * Waits a known time (a pause, the budget), or until a slot frees: a slot freed by this process
   * wakes it at once, one freed by another is seen at the next poll.
   */
  private async nap(line: SourceLine, waitMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs > 0 ? waitMs : POLL_MS * (0.5 + Math.random()));
      line.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    line.wake = undefined;
  }

  /**
   * Commands are not queued while Redis is away (the EHR must not wait on it), so a new connection
   * is given a moment to come up; after that a request goes unpaced rather than waiting.
   */
  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await Promise.race([once(this.redis, 'ready'), sleep(CONNECT_WAIT_MS)]);
  }

  private giveBack(
    sourceId: string,
    line: SourceLine,
    pacing: PacingConfig,
    token: string,
    outcome: RequestOutcome,
  ): void {
    const slow = line.latency.slow(outcome.kind ?? 'request', outcome.latencyMs, pacing.slowFactor);
    const signal: Signal = outcome.busy ? 'busy' : slow ? 'slow' : 'quick';
    line.givenBack.push({
      token,
      signal,
      pauseMs: outcome.busy ? (outcome.retryAfterMs ?? BUSY_PAUSE_MS) : 0,
      roundMs: Math.max(Math.round(outcome.latencyMs), 100),
    });
    // The cap must move now (halve, pause every process).
    if (signal !== 'quick' || this.closing) return void this.flush(sourceId, line);
    // A waiter of this process asks again at once (or is asking, and asks again), with it.
    if (line.waiters > 0) return line.wake?.();
    this.giveBackSoon(sourceId, line);
  }

  /** At once when another process may be waiting for a slot, else with whatever comes in the next few ms. */
  private giveBackSoon(sourceId: string, line: SourceLine): void {
    if (line.full) return void this.flush(sourceId, line);
    line.giveBackTimer ??= setTimeout(() => void this.flush(sourceId, line), GIVE_BACK_LINGER_MS);
  }

  /** Tells Redis every slot given back and not yet told. */
  private async flush(sourceId: string, line: SourceLine): Promise<void> {
    while (line.givenBack.length > 0) await this.pace(sourceId, line, line.pacing!);
    line.wake?.();
  }

  /**
   * One round trip: the slots given back so far, then, with `ask`, a slot for a request. Undefined
   * when Redis is unreachable (the leases given back then run out on their own).
   */
  private async pace(
    sourceId: string,
    line: SourceLine,
    pacing: PacingConfig,
    ask?: { token: string; cost: number },
  ): Promise<[number, number, string, number] | undefined> {
    const given = line.givenBack.splice(0, MAX_GIVEN_BACK);
    if (line.givenBack.length === 0) {
      clearTimeout(line.giveBackTimer);
      line.giveBackTimer = undefined;
    }
    try {
      await this.connected();
      const answer = await this.redis.ehrPace(
        ...this.keys(sourceId),
        ask?.token ?? '',
        this.leaseMs(sourceId),
        ask?.cost ?? 0,
        pacing.maxInFlight,
        pacing.requestBudget?.requests ?? 0,
        pacing.requestBudget ? pacing.requestBudget.perSeconds * 1000 + BUDGET_TRANSIT_MS : 0,
        pacing.minInFlight,
        given.length,
        ...given.flatMap((g) => [g.token, g.signal, g.pauseMs, g.roundMs]),
      );
      const [granted, , cap, inFlight] = answer;
      line.full = (ask !== undefined && granted !== 1) || inFlight >= Math.max(1, Math.floor(Number(cap)));
      line.answeredAt = performance.now();
      ehrConcurrencyCap.set({ source: sourceId }, Number(cap));
      ehrInFlight.set({ source: sourceId }, inFlight);
      return answer;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    // Slots not yet given back are told now; with Redis away, their leases run out on their own.
    if (this.redis.status === 'ready')
      await Promise.all([...this.lines].map(([sourceId, line]) => this.flush(sourceId, line)));
    for (const line of this.lines.values()) clearTimeout(line.giveBackTimer);
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

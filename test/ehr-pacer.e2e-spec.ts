import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PacingConfig } from '@aegle/config';
import { EhrPermit, RedisEhrPacer } from '@aegle/fhir';
import { ehrConcurrencyCap, ehrInFlight } from '@aegle/telemetry';
import { TEST_REDIS_URL } from './support/aegle-app';

const pacing = (overrides: Partial<PacingConfig> = {}): PacingConfig => ({
  maxInFlight: 4,
  minInFlight: 1,
  slowFactor: 3,
  ...overrides,
});

/** Resolves with the permit, or undefined when none came within `ms`. */
const within = (permit: Promise<EhrPermit>, ms: number) =>
  Promise.race([permit, sleep(ms).then(() => undefined)]);

/**
 * The pacer two Aegle processes share through Redis (here two instances on one real Redis, as two
 * processes would hold them): one cap, one pause, one budget per EHR.
 */
describe('EHR pacing shared through Redis', () => {
  let a: RedisEhrPacer;
  let b: RedisEhrPacer;
  let source: string;

  beforeEach(() => {
    const prefix = `aegle-test-${randomBytes(4).toString('hex')}`;
    a = new RedisEhrPacer(TEST_REDIS_URL, prefix, () => 10_000);
    b = new RedisEhrPacer(TEST_REDIS_URL, prefix, () => 10_000);
    source = `ehr-${randomBytes(2).toString('hex')}`;
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  const inFlight = async () =>
    (await ehrInFlight.get()).values.find((v) => v.labels.source === source)?.value;
  const cap = async () =>
    (await ehrConcurrencyCap.get()).values.find((v) => v.labels.source === source)?.value;

  it('caps requests in flight across processes, and a slot freed in one is taken by the other', async () => {
    const held = [
      await a.acquire(source, pacing(), 1),
      await b.acquire(source, pacing(), 1),
      await a.acquire(source, pacing(), 1),
      await b.acquire(source, pacing(), 1),
    ];
    const fifth = b.acquire(source, pacing(), 1);
    expect(await within(fifth, 200)).toBeUndefined();
    held[0].done({ latencyMs: 20, busy: false });
    expect(await within(fifth, 1_000)).toBeDefined();
    for (const permit of held.slice(1)) permit.done({ latencyMs: 20, busy: false });
    (await fifth).done({ latencyMs: 20, busy: false });
  });

  it('halves the cap on a busy answer, pauses every process for its Retry-After, then grows back', async () => {
    (await a.acquire(source, pacing(), 1)).done({ latencyMs: 30, busy: true, retryAfterMs: 400 });
    await sleep(50); // the release is sent without waiting
    expect(await cap()).toBe(2);
    const started = Date.now();
    const permit = await b.acquire(source, pacing(), 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    permit.done({ latencyMs: 30, busy: false });
    for (let i = 0; i < 8; i++) (await a.acquire(source, pacing(), 1)).done({ latencyMs: 30, busy: false });
    await sleep(50);
    expect(await cap()).toBe(4); // back to the ceiling, never above it
  });

  it('treats answers that stay far slower than usual as the EHR slowing down', async () => {
    for (let i = 0; i < 6; i++) (await a.acquire(source, pacing(), 1)).done({ latencyMs: 100, busy: false });
    for (let i = 0; i < 4; i++) (await a.acquire(source, pacing(), 1)).done({ latencyMs: 450, busy: false });
    await sleep(50);
    expect(await cap()).toBe(2);
  });

  it('keeps the cap through one late answer, and through a kind of request that is slower by nature', async () => {
    const answer = async (kind: string, latencyMs: number) =>
      (await a.acquire(source, pacing(), 1)).done({ kind, latencyMs, busy: false });
    for (let i = 0; i < 6; i++) await answer('batch', 100);
    await answer('batch', 450); // a loaded machine's hiccup
    for (let i = 0; i < 6; i++) await answer('transaction', 400); // writes take longer than reads
    await sleep(50);
    expect(await cap()).toBe(4);
  });

  it('tells Redis of a slot given back with the next request, in one round trip', async () => {
    const first = await a.acquire(source, pacing(), 1);
    first.done({ latencyMs: 20, busy: false });
    // The next ask carries the slot back: in flight, only the new request.
    const next = await a.acquire(source, pacing(), 1);
    expect(await inFlight()).toBe(1);
    next.done({ latencyMs: 20, busy: false });
    // Given back with nothing to ride along with: told a few ms later all the same.
    await sleep(100);
    expect(await inFlight()).toBe(0);
  });

  it('keeps to a request budget over a sliding window, a batch costing one per entry', async () => {
    const budget = pacing({ maxInFlight: 50, requestBudget: { requests: 10, perSeconds: 1 } });
    (await a.acquire(source, budget, 9)).done({ latencyMs: 5, busy: false });
    (await b.acquire(source, budget, 1)).done({ latencyMs: 5, busy: false });
    const started = Date.now();
    (await a.acquire(source, budget, 1)).done({ latencyMs: 5, busy: false });
    // Not before the window (and the margin for requests in transit) has passed.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });
});

import { EhrRequestError } from '@aegle/fhir';
import { retryDelayMs, runBackoff, writebackBackoff } from './retry-policy';

const policy = { backoffBaseMs: 1_000, backoffMaxMs: 60_000 };

describe('retryDelayMs', () => {
  it('doubles each attempt, between half and all of the doubled delay', () => {
    expect(retryDelayMs(1, policy, undefined, () => 0)).toBe(500);
    expect(retryDelayMs(1, policy, undefined, () => 1)).toBe(1_000);
    expect(retryDelayMs(4, policy, undefined, () => 0)).toBe(4_000);
    expect(retryDelayMs(4, policy, undefined, () => 1)).toBe(8_000);
  });

  it('spreads retries with jitter', () => {
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(3, policy)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(2_000);
      expect(d).toBeLessThanOrEqual(4_000);
    }
  });

  it('never waits longer than the cap, however many attempts', () => {
    expect(retryDelayMs(40, policy, undefined, () => 1)).toBe(60_000);
    expect(retryDelayMs(1_000, policy, undefined, () => 0)).toBe(30_000);
  });

  it("honours the EHR's Retry-After when it asks for longer", () => {
    expect(retryDelayMs(1, policy, 120_000, () => 1)).toBe(120_000);
    expect(retryDelayMs(6, policy, 10, () => 0)).toBe(16_000);
  });

  it('hands BullMQ the delay the processor chose', () => {
    expect(writebackBackoff(3, 'writeback', Object.assign(new Error('x'), { retryDelayMs: 1234 }))).toBe(
      1234,
    );
    expect(writebackBackoff(1, 'writeback', new Error('no delay chosen'))).toBeGreaterThanOrEqual(500);
  });
});

describe('runBackoff', () => {
  it("doubles from 500 ms, as BullMQ's exponential backoff did", () => {
    expect([1, 2, 3, 7].map((attempt) => runBackoff(attempt, 'run', new Error('plugin threw')))).toEqual([
      500, 1_000, 2_000, 32_000,
    ]);
  });

  it("waits at least as long as the EHR's Retry-After", () => {
    const busy = new EhrRequestError(429, undefined, 'batch failed with HTTP 429', 20_000);
    expect(runBackoff(1, 'run', busy)).toBe(20_000);
    expect(runBackoff(7, 'run', busy)).toBe(32_000);
  });
});

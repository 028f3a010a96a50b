import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let now = 0;
  const clock = () => now;
  const breaker = () => new CircuitBreaker('unit-ehr', 3, 1_000, clock);

  beforeEach(() => (now = 0));

  it('stays closed below the threshold, and a success resets the count', () => {
    const b = breaker();
    b.failed();
    b.failed();
    b.succeeded();
    b.failed();
    b.failed();
    expect(b.current).toBe('closed');
    expect(b.admit()).toBe(0);
  });

  it('opens after N consecutive failures and holds requests for the cooldown', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failed();
    expect(b.current).toBe('open');
    expect(b.admit()).toBe(1_000);
    now = 600;
    expect(b.admit()).toBe(400);
  });

  it('lets one probe through after the cooldown; the rest keep waiting', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failed();
    now = 1_000;
    expect(b.admit()).toBe(0);
    expect(b.current).toBe('half-open');
    expect(b.admit()).toBeGreaterThan(0);
    expect(b.admit()).toBeGreaterThan(0);
  });

  it('closes when the probe succeeds', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failed();
    now = 1_000;
    b.admit();
    b.succeeded();
    expect(b.current).toBe('closed');
    expect(b.admit()).toBe(0);
  });

  it('opens again when the probe fails', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failed();
    now = 1_000;
    b.admit();
    b.failed();
    expect(b.current).toBe('open');
    expect(b.admit()).toBe(1_000);
  });

  it('treats a refusal during the probe as the EHR being up', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failed();
    now = 1_000;
    b.admit();
    b.released();
    expect(b.current).toBe('closed');
  });
});

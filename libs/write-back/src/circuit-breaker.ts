import { writeBackBreakerState, writeBackBreakerTransitionsTotal } from '@aegle/telemetry';

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * One EHR source's circuit breaker. After `threshold` consecutive retryable failures it opens: jobs
 * wait (spending no attempts and sending no requests) until the cooldown ends, then one probe
 * goes through. A successful probe closes it; a failed one opens it again. A down EHR thus sees one
 * request per cooldown, however many results are waiting for it.
 */
export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private failures = 0;
  private openUntil = 0;
  private probeInFlight = false;

  constructor(
    readonly sourceId: string,
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.report();
  }

  get current(): BreakerState {
    return this.state;
  }

  /** 0 when a request may go now; otherwise how long to wait before asking again. */
  admit(): number {
    if (this.state === 'closed') return 0;
    const wait = this.openUntil - this.now();
    if (this.state === 'open' && wait > 0) return wait;
    if (this.probeInFlight) return Math.max(this.cooldownMs / 4, 50);
    this.state = 'half-open';
    this.probeInFlight = true;
    this.report(true);
    return 0;
  }

  succeeded(): void {
    this.failures = 0;
    this.probeInFlight = false;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.report(true);
    }
  }

  /** A retryable failure (network, 408, 429, 5xx); refusals say nothing about the EHR's health. */
  failed(): void {
    this.failures++;
    if (this.state === 'half-open') {
      this.probeInFlight = false;
      this.trip();
    } else if (this.state === 'closed' && this.failures >= this.threshold) {
      this.trip();
    }
  }

  /** A request that ended without saying anything about the EHR (e.g. a refusal). */
  released(): void {
    if (this.state === 'half-open') this.succeeded();
  }

  private trip(): void {
    this.state = 'open';
    this.openUntil = this.now() + this.cooldownMs;
    this.report(true);
  }

  private report(transition = false): void {
    if (transition) writeBackBreakerTransitionsTotal.inc({ source: this.sourceId, to: this.state });
    for (const state of ['closed', 'open', 'half-open'] as const) {
      writeBackBreakerState.set({ source: this.sourceId, state }, state === this.state ? 1 : 0);
    }
  }
}

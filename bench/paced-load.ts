/**
 * Open-loop load at a constant arrival rate, for latency "at N requests a second".
 *
 * autocannon's own rate option lets each connection send its whole second's share back to back and
 * then pause (autocannon issue #174), so "1,000/s" arrives as bursts of its 32 connections at full
 * speed; it also weights every response by its latency in ms when correcting for coordinated
 * omission. Here request i is due at start + i / rate whatever happened to the ones before it, and
 * its latency is counted from that due time (as wrk2 does): a stall in the server, or in this
 * driver, is charged to every request it delayed, so the percentiles can only be worse than the
 * server's own.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface PacedLoadOptions {
  url: string;
  rate: number;
  durationSeconds: number;
  headers: Record<string, string>;
  body: () => string;
  /** Sockets kept open at most; a request due while all are busy waits (and the wait counts). */
  maxSockets?: number;
}

export interface PacedLoadResult {
  ok: number;
  non2xx: number;
  errors: number;
  /** Answered requests per second over the run. */
  rps: number;
  p50: number;
  p99: number;
  max: number;
}

export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const total = Math.round(options.rate * options.durationSeconds);
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let done = 0;
  const start = performance.now();

  await new Promise<void>((resolve) => {
    const finish = () => {
      done++;
      if (done === total) resolve();
    };
    const send = (dueAt: number) => {
      const body = options.body();
      const request = http.request(options.url, {
        method: 'POST',
        agent,
        headers: { ...options.headers, 'content-length': Buffer.byteLength(body) },
      });
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => {
          latencies.push(performance.now() - dueAt);
          if (response.statusCode! >= 200 && response.statusCode! < 300) ok++;
          else non2xx++;
          finish();
        });
      });
      request.on('error', () => {
        errors++;
        finish();
      });
      request.end(body);
    };
    // Timers fire no finer than about 1 ms: each tick sends every request that has fallen due.
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (sent < due) send(start + sent++ * intervalMs);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsedSeconds = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : 0;
  return {
    ok,
    non2xx,
    errors,
    rps: (ok + non2xx) / elapsedSeconds,
    p50: Math.round(at(0.5) * 10) / 10,
    p99: Math.round(at(0.99) * 10) / 10,
    max: Math.round(at(1) * 10) / 10,
  };
}

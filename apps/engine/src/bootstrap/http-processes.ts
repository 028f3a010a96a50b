import cluster, { Worker } from 'node:cluster';
import { serveClusterScrapes } from '@aegle/telemetry';

/** A child that lived this long before dying is a crash, not a crash loop: its back-off starts over. */
const STABLE_AFTER_MS = 30_000;
const FIRST_RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;
/** Past the children's own shutdown deadline, how long the primary waits before killing them. */
const KILL_GRACE_MS = 5_000;

export interface HttpProcessesOptions {
  /** How many children serve HTTP on the one port. */
  count: number;
  /** A child's environment on top of this process's: the shared database's URL, its role… */
  envOf: (slot: number) => Record<string, string>;
  /** The children's own drain deadline (AEGLE_SHUTDOWN_TIMEOUT_MS). */
  shutdownTimeoutMs: number;
  /** Once every child has exited on shutdown: e.g. stop the embedded database they shared. */
  after?: () => Promise<void>;
  log: (message: string) => void;
}

export interface HttpProcesses {
  /** The port every child listens on (one socket, shared through node:cluster). */
  readonly port: number;
  /** The children's process ids, now. */
  pids(): number[];
  /** SIGTERM to every child (each drains as a single process does), then `after`; the exit code. */
  stop(): Promise<number>;
}

/** In a child forked by {@link startHttpProcesses}: the primary did the shared set-up. */
export const isHttpChild = (): boolean => cluster.isWorker;

/**
 * Makes this process a node:cluster primary over `count` children that each run the app (the same
 * entry script, which sees {@link isHttpChild}) and share the listening port, as pm2's cluster
 * mode does: one Node process uses one core. The primary serves no requests. It replaces a child
 * that dies (after a back-off that doubles while children keep dying young), forwards SIGTERM and
 * SIGINT so each child drains, exits when they have, and answers the children's `/metrics` with
 * the sum over all of them. The first child starts alone (it migrates a new database); the others
 * once it listens. Resolves once every child listens; rejects (after stopping the
 * others) if one dies before that, since a child that cannot start points at the configuration.
 */
export function startHttpProcesses(options: HttpProcessesOptions): Promise<HttpProcesses> {
  const slots = new Map<Worker, number>();
  const bornAt = new Map<Worker, number>();
  const youngDeaths = new Map<number, number>();
  const listening = new Set<Worker>();
  let stopping: Promise<number> | undefined;
  let ready = false;

  serveClusterScrapes();

  const fork = (slot: number) => {
    const worker = cluster.fork(options.envOf(slot));
    slots.set(worker, slot);
    bornAt.set(worker, Date.now());
  };

  const stop = () =>
    (stopping ??= (async () => {
      const alive = [...slots.keys()].filter((w) => w.process.exitCode === null && !w.process.signalCode);
      const exits = alive.map(
        (w) => new Promise<number>((done) => w.once('exit', (code) => done(code ?? 1))),
      );
      // Not worker.kill(): it disconnects first, which would close the child's server before it drains.
      for (const worker of alive) worker.process.kill('SIGTERM');
      const deadline = setTimeout(() => {
        options.log('HTTP processes did not exit in time; killing them');
        for (const worker of alive) worker.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs + KILL_GRACE_MS);
      const codes = await Promise.all(exits);
      clearTimeout(deadline);
      let code = codes.every((c) => c === 0) ? 0 : 1;
      try {
        await options.after?.();
      } catch (error) {
        options.log(`shutdown failed: ${(error as Error).message}`);
        code = 1;
      }
      return code;
    })());

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      options.log(`${signal}: stopping ${slots.size} HTTP processes gracefully`);
      void stop().then((code) => process.exit(code));
    });
  }

  return new Promise<HttpProcesses>((resolve, reject) => {
    cluster.on('listening', (worker, address) => {
      listening.add(worker);
      if (ready) options.log(`HTTP process ${worker.process.pid} is listening (a replacement)`);
      if (!ready && listening.size === 1) for (let slot = 1; slot < options.count; slot++) fork(slot);
      if (ready || listening.size < options.count || stopping) return;
      ready = true;
      resolve({ port: address.port, pids: () => [...slots.keys()].map((w) => w.process.pid!), stop });
    });

    cluster.on('exit', (worker, code, signal) => {
      const slot = slots.get(worker)!;
      const lived = Date.now() - bornAt.get(worker)!;
      slots.delete(worker);
      bornAt.delete(worker);
      listening.delete(worker);
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (!ready) {
        options.log(`HTTP process ${worker.process.pid} exited (${how}) before it listened; stopping`);
        void stop().then(() => reject(new Error('an HTTP process could not start')));
        return;
      }
      const deaths = lived < STABLE_AFTER_MS ? (youngDeaths.get(slot) ?? 0) + 1 : 1;
      youngDeaths.set(slot, deaths);
      const delay = Math.min(FIRST_RESTART_DELAY_MS * 2 ** (deaths - 1), MAX_RESTART_DELAY_MS);
      options.log(`HTTP process ${worker.process.pid} exited (${how}); starting another in ${delay} ms`);
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay);
    });

    // The first child alone, then the others: on a new database, it alone runs the migrations.
    fork(0);
  });
}

import { INestApplication } from '@nestjs/common';
import { DrainService } from './drain.service';

/**
 * On SIGTERM or SIGINT: drain (intake closed, in-flight requests and jobs finished), close the
 * app (sessions, connections), run `after` (e.g. stop an embedded database), exit 0. Past
 * `timeoutMs` it exits 1; jobs still active then are stalled and another worker takes them.
 */
export function installGracefulShutdown(
  app: INestApplication,
  options: { timeoutMs: number; after?: () => Promise<void>; log: (message: string) => void },
): void {
  let started = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    options.log(`${signal}: shutting down gracefully (at most ${options.timeoutMs} ms)`);
    const deadline = setTimeout(() => {
      options.log('shutdown timed out; exiting with jobs still active (they will be retried)');
      process.exit(1);
    }, options.timeoutMs);
    deadline.unref();
    void (async () => {
      try {
        await app.get(DrainService).drain();
        await app.close();
        await options.after?.();
        options.log('shut down cleanly');
        process.exit(0);
      } catch (error) {
        options.log(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      }
    })();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

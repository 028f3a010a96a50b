/**
 * The server half of `npm run bench:intake`: the real app in the api role (intake and admin API on
 * PostgreSQL and Redis; routing and plugin runs belong to worker processes) plus a bare endpoint
 * that goes through the same stack (body parser, trace hook, request logging,
 * OperationOutcome filter) and does nothing, as the baseline. Compiled by `npm run bench:intake`
 * (bench/tsconfig.intake-server.json) and started by bench/intake.ts in its own process; with BENCH_HTTP_PROCESSES > 1 that process is the primary of that many HTTP
 * processes, started as `npm start` starts them (apps/engine/src/bootstrap/http-processes.ts). It
 * answers `cpu` messages with the CPU time so far (µs) of all its processes, so the bench can
 * report the server's CPU per request, which the other processes on the machine disturb less than
 * rates.
 */
import 'reflect-metadata';
import { Controller, HttpCode, Module, Post, UseFilters } from '@nestjs/common';
import { AegleConfig, loadConfig } from '@aegle/config';
import { OperationOutcomeFilter, operationOutcome } from '@aegle/fhir';
import { createApp } from '../apps/engine/src/app';
import { isHttpChild, startHttpProcesses } from '../apps/engine/src/bootstrap/http-processes';
import { installGracefulShutdown } from '../apps/engine/src/lifecycle/graceful-shutdown';
import { processCpuMicros } from './proc-cpu';
const log = (message: string) => process.stderr.write(`${message}\n`);

@Controller('fhir/bare')
@UseFilters(OperationOutcomeFilter)
class BareController {
  @Post(':sourceId')
  @HttpCode(200)
  notify(): fhir4.OperationOutcome {
    return operationOutcome('information', 'informational', 'accepted 0 event(s)');
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

function benchConfig(): AegleConfig {
  return loadConfig(
    {
      DATABASE_URL: process.env.BENCH_DATABASE_URL,
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      AEGLE_QUEUE_PREFIX: process.env.BENCH_QUEUE_PREFIX ?? 'aegle-bench',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // The intake is the api role's work; the bench measures that role, as deployed.
      ROLE: process.env.BENCH_ROLE ?? 'api',
      AEGLE_HTTP_PROCESSES: process.env.BENCH_HTTP_PROCESSES ?? '1',
    },
    {
      sources: [
        {
          id: 'bench',
          fhirBaseUrl: 'http://127.0.0.1:9/fhir', // never called: full-resource notifications need no read
          inbound: { bearerToken: process.env.BENCH_TOKEN ?? 'bench-inbound-token' },
        },
      ],
      plugins: { dirs: ['plugins'] },
    },
  );
}

/** The app in this process, as `npm start` runs it in each HTTP process. */
async function serve(config: AegleConfig): Promise<{ port: number; stop: () => Promise<number> }> {
  const app = await createApp(config, [BareModule]);
  installGracefulShutdown(app, { timeoutMs: config.shutdownTimeoutMs, log });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { port, stop: () => app.close().then(() => 0) };
}

async function main(): Promise<void> {
  const config = benchConfig();
  if (isHttpChild()) {
    await serve(config);
    return;
  }
  const server =
    config.httpProcesses === 1
      ? { ...(await serve(config)), pids: () => [] as number[] }
      : await startHttpProcesses({
          count: config.httpProcesses,
          envOf: () => ({}),
          shutdownTimeoutMs: 10_000,
          log,
        });
  process.send?.({ port: server.port });
  process.on('message', (message) => {
    if (message === 'stop') void server.stop().then((code) => process.exit(code));
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      const children = server.pids().reduce((sum, pid) => sum + processCpuMicros(pid), 0);
      process.send?.({ cpuMicros: user + system + children });
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

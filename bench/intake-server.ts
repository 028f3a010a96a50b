/**
 * The server half of `npm run bench:intake`: the real app in the api role (intake and admin API on
 * PostgreSQL and Redis; routing and plugin runs belong to worker processes) plus a bare endpoint
 * that goes through the same stack (body parser, trace middleware, request logging,
 * OperationOutcome filter) and does nothing, as the baseline. Started by bench/intake.ts in its
 * own process; answers `cpu` messages with its CPU time so far (µs), so the bench can report the
 * server's CPU per request, which the other processes on the machine disturb less than rates.
 */
import 'reflect-metadata';
import { Controller, HttpCode, Module, Post, UseFilters } from '@nestjs/common';
import { loadConfig } from '@aegle/config';
import { OperationOutcomeFilter, operationOutcome } from '@aegle/fhir';
import { createApp } from '../apps/engine/src/app';

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

async function main(): Promise<void> {
  const config = loadConfig(
    {
      DATABASE_URL: process.env.BENCH_DATABASE_URL,
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      AEGLE_QUEUE_PREFIX: process.env.BENCH_QUEUE_PREFIX ?? 'aegle-bench',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // The intake is the api role's work; the bench measures that role, as deployed.
      ROLE: process.env.BENCH_ROLE ?? 'api',
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
  const app = await createApp(config, [BareModule]);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.send?.({ port });
  process.on('message', (message) => {
    if (message === 'stop') void app.close().then(() => process.exit(0));
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send?.({ cpuMicros: user + system });
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

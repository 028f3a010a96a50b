import { Client } from 'pg';
import type { QueueWatch } from './queue-watch';

/**
 * One line on where a multi-process run's work stands, for progress reports and for the message of
 * a wait that gave up: each queue's jobs by state, PostgreSQL's events, runs and write-backs by
 * status, and each worker's EHR pacing cap and write-back circuit breaker (from its /metrics).
 * Whatever cannot be read (Redis restarting, a worker just killed) says so instead.
 */
export async function workSnapshot(options: {
  watch: QueueWatch;
  databaseUrl: string;
  /** Base URLs of the worker processes. */
  workers: string[];
}): Promise<string> {
  const [queues, rows, workers] = await Promise.all([
    queueCounts(options.watch),
    workRows(options.databaseUrl),
    Promise.all(options.workers.map(workerMetrics)),
  ]);
  return `queues ${queues}; rows ${rows}; workers ${workers.join(' ')}`;
}

async function queueCounts(watch: QueueWatch): Promise<string> {
  try {
    const counts = await Promise.all(
      Object.entries(watch.queues).map(async ([name, queue]) => {
        const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
        return `${name} waiting ${c.waiting + c.prioritized} active ${c.active} delayed ${c.delayed} failed ${c.failed}`;
      }),
    );
    return counts.join(', ');
  } catch (error) {
    return `unreadable (${(error as Error).message})`;
  }
}

async function workRows(databaseUrl: string): Promise<string> {
  const db = new Client({ connectionString: databaseUrl });
  try {
    await db.connect();
    const { rows } = await db.query<{ what: string; n: string }>(
      `SELECT 'event ' || status AS what, count(*) AS n FROM event GROUP BY 1
       UNION ALL SELECT 'run ' || outcome, count(*) FROM plugin_run GROUP BY 1
       UNION ALL SELECT 'write-back ' || outcome, count(*) FROM write_back GROUP BY 1
       UNION ALL SELECT 'failed job', count(*) FROM failed_job
       ORDER BY 1`,
    );
    return rows.map((r) => `${r.what} ${r.n}`).join(', ');
  } catch (error) {
    return `unreadable (${(error as Error).message})`;
  } finally {
    await db.end().catch(() => undefined);
  }
}

async function workerMetrics(url: string): Promise<string> {
  const text = await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => undefined,
  );
  if (text === undefined) return '[unreachable]';
  const lines = text.split('\n');
  const cap = lines.find((l) => l.startsWith('aegle_ehr_concurrency_cap{'))?.split(' ')[1];
  const breaker = lines
    .filter((l) => l.startsWith('aegle_writeback_breaker_state{') && l.endsWith(' 1'))
    .map((l) => /state="([^"]+)"/.exec(l)?.[1])
    .join(',');
  return `[EHR cap ${cap ? Number(cap).toFixed(1) : '-'}, breaker ${breaker || '-'}]`;
}

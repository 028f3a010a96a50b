import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AegleProcess, processAlive, spawnAegle } from './support/aegle-process';
import { createTestDatabase, TEST_REDIS_URL, TestDatabase } from './support/aegle-app';
import { QueueWatch, watchQueues } from './support/queue-watch';

jest.setTimeout(120_000);

const TOKEN = 'http-processes-inbound-token';
const NOTIFICATIONS = 400;
const CONNECTIONS = 40;

/** A sample of a Prometheus text exposition: `name{labels} value`, every label given must match. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .map((line) => Number(line.split(' ').at(-1)));
}

/**
 * The real `main.ts` with AEGLE_HTTP_PROCESSES=2 in the api role: a node:cluster primary over two
 * processes sharing one port, on real PostgreSQL and Redis.
 */
describe('several HTTP processes (AEGLE_HTTP_PROCESSES=2, ROLE=api)', () => {
  let database: TestDatabase;
  let watch: QueueWatch;
  let aegle: AegleProcess;
  let children: number[];

  beforeAll(async () => {
    database = await createTestDatabase();
    const queuePrefix = `aegle-http-processes-${randomBytes(4).toString('hex')}`;
    watch = await watchQueues(TEST_REDIS_URL, queuePrefix);
    aegle = await spawnAegle({
      databaseUrl: database.url,
      redisUrl: TEST_REDIS_URL,
      queuePrefix,
      role: 'api',
      // Never called: full-resource notifications need no read.
      sources: [{ id: 'test-ehr', fhirBaseUrl: 'http://127.0.0.1:9/fhir', bearerToken: TOKEN }],
      env: { AEGLE_HTTP_PROCESSES: '2' },
    });
    const listening = await aegle.waitForLine(/2 HTTP processes: \d+, \d+\)/);
    children = /processes: (\d+), (\d+)\)/.exec(listening)!.slice(1).map(Number);
  });

  afterAll(async () => {
    if (aegle && aegle.child.exitCode === null) await aegle.stop();
    await watch?.obliterate();
    await watch?.close();
    await database?.drop();
  });

  const notify = (n: number) =>
    fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        resourceType: 'Observation',
        id: `hp-${n}`,
        meta: { versionId: '1' },
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: 'Patient/hp-patient' },
        valueQuantity: { value: 70 + (n % 20), unit: '/min' },
      }),
    });

  /** A scrape on a new connection, so that over a few of them both processes answer. */
  const scrape = () =>
    fetch(`${aegle.url}/metrics`, { headers: { connection: 'close' } }).then((r) => r.text());

  it('stores every notification sent over many connections exactly once, served by both processes', async () => {
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < NOTIFICATIONS) {
          const response = await notify(next++);
          await response.arrayBuffer();
          statuses.push(response.status);
        }
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(NOTIFICATIONS);

    const db = new Client({ connectionString: database.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ focus_id: string; n: string }>(
        `SELECT focus_id, count(*) AS n FROM event GROUP BY focus_id`,
      );
      expect(rows).toHaveLength(NOTIFICATIONS);
      expect(rows.every((r) => r.n === '1')).toBe(true);
    } finally {
      await db.end();
    }
    // Each process logs the requests it answered: both took a share.
    for (const pid of children) {
      const answered = aegle.lines.filter(
        (line) => line.includes(`"pid":${pid}`) && line.includes('/fhir/notify/test-ehr'),
      );
      expect(answered.length).toBeGreaterThan(0);
    }
  });

  it('answers /metrics with the sum over both processes, whichever answers the scrape', async () => {
    for (let i = 0; i < 6; i++) {
      const text = await scrape();
      expect(sample(text, 'aegle_notifications_total', { source: 'test-ehr', outcome: 'accepted' })).toEqual([
        NOTIFICATIONS,
      ]);
      // Read from Redis by the answering process, not summed: nothing routes them in the api role.
      expect(sample(text, 'aegle_queue_depth', { queue: 'aegle-events', state: 'waiting' })).toEqual([
        NOTIFICATIONS,
      ]);
      // Per-process figures are summed (CPU) or left out where a sum means nothing (start time).
      expect(sample(text, 'aegle_process_process_cpu_seconds_total')).toHaveLength(1);
      expect(sample(text, 'aegle_process_process_start_time_seconds')).toEqual([]);
    }
  });

  it('replaces a child that dies', async () => {
    const [victim, survivor] = children;
    process.kill(victim, 'SIGKILL');
    await aegle.waitForLine(
      new RegExp(`HTTP process ${victim} exited \\(signal SIGKILL\\); starting another`),
    );
    const replaced = await aegle.waitForLine(/HTTP process \d+ is listening \(a replacement\)/);
    const replacement = Number(/process (\d+)/.exec(replaced)![1]);
    expect(replacement).not.toBe(victim);
    expect(processAlive(survivor)).toBe(true);
    children = [survivor, replacement];

    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => notify(NOTIFICATIONS + i).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    // The survivor's count stays; the replacement counts from zero (a counter reset to Prometheus).
    const accepted = sample(await scrape(), 'aegle_notifications_total', { outcome: 'accepted' })[0];
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(accepted).toBeLessThan(NOTIFICATIONS + 20);
  });

  it('on SIGTERM drains every process and exits 0', async () => {
    expect(await aegle.stop()).toEqual({ code: 0, signal: null });
    expect(aegle.lines.filter((line) => line === 'shut down cleanly')).toHaveLength(2);
    for (const pid of children) expect(processAlive(pid)).toBe(false);
  });
});

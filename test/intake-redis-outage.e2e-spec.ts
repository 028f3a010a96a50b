import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { EventEmitter, once } from 'node:events';
import { EventEnqueuer } from '@aegle/intake';
import { QUEUES } from '@aegle/jobs';
import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { json } from './support/http';
import { RedisProcess, startRedisProcess } from './support/redis-process';

const TOKEN = 'outage-e2e-token';

describe('intake while Redis is down: accepted into PostgreSQL, enqueued once Redis is back', () => {
  let redis: RedisProcess;
  let ehr: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    redis = await startRedisProcess();
    ehr = await startFhirServer();
    aegle = await startAegle({
      redisUrl: redis.url,
      sources: [{ id: 'outage', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
    });
  });

  afterAll(async () => {
    await redis?.start(); // close() cleans its queues up (a no-op when it is running)
    await aegle?.close();
    await ehr?.close();
    await redis?.stop();
  });

  const notify = (id: string) =>
    fetch(`${aegle.url}/fhir/notify/outage`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        resourceType: 'Observation',
        id,
        meta: { versionId: '1' },
        status: 'final',
        code: { text: 'x' },
      }),
    });

  it('answers 2xx from PostgreSQL alone, and routes every event after Redis returns', async () => {
    expect((await notify('before')).status).toBe(200);
    await aegle.waitForIdle();

    await redis.stop();
    const ids = Array.from({ length: 20 }, (_, i) => `during-${i}`);
    const responses = await Promise.all(ids.map(notify));
    for (const response of responses) {
      expect(response.status).toBe(200);
      const outcome = await json<fhir4.OperationOutcome>(response);
      expect(outcome.issue[0].diagnostics).toMatch(/queued for processing once the queue is reachable/);
    }
    const waiting = await aegle.db.query(
      `SELECT count(*)::int AS n FROM event WHERE focus_id LIKE 'during-%' AND enqueued_at IS NULL`,
    );
    expect(waiting[0].n).toBe(ids.length);

    await redis.start();
    const client = await aegle.app.get<Queue>(getQueueToken(QUEUES.events)).client;
    if (client.status !== 'ready') await once(client as unknown as EventEmitter, 'ready');
    expect(await aegle.app.get(EventEnqueuer).relay()).toBe(ids.length);
    await aegle.waitForIdle();

    const rows = await aegle.db.query(`SELECT status, enqueued_at FROM event WHERE focus_id LIKE 'during-%'`);
    expect(rows).toHaveLength(ids.length);
    for (const row of rows) expect(row).toEqual({ status: 'routed', enqueued_at: expect.any(Date) });
  });
});

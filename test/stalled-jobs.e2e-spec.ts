import { getQueueToken } from '@nestjs/bullmq';
import { Job, Queue, Worker } from 'bullmq';
import { DataSource } from 'typeorm';
import { EventEnqueuer } from '@aegle/intake';
import { QUEUES, redisConnection } from '@aegle/jobs';
import { RouterProcessor } from '../libs/routing/src/router.processor';
import { RunProcessor } from '../libs/runs/src/run.processor';
import { WritebackProcessor } from '../libs/write-back/src/writeback.processor';
import { RunningAegle, startAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { eventually, json } from './support/http';
import { stalledChecksRun, takenAgain } from './support/job-barriers';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

jest.setTimeout(60_000);

const TOKEN = 'stall-inbound-token';
const ADMIN = 'stall-admin-token';
const PATIENT = 'stall-p';
const STALLED = /^the worker holding it stopped once: job stalled more than allowable limit$/;

type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * A worker that dies while holding a job, as often as BullMQ allows (here 0 times: the first stall
 * fails it): the job must end up recorded once, like any job that gave up, and stop holding back its
 * resource's next version. "Dying" is a raw BullMQ worker that takes the job with a short lock and
 * never renews it; the real Aegle workers' stalled check (every 200 ms here) does the rest.
 */
describe('jobs BullMQ fails for stalling are recorded, and release their resource', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let db: DataSource;

  beforeAll(async () => {
    ehr = await startFhirServer();
    await ehr.seed([
      patient(PATIENT, { gender: 'female', age: 55 }),
      lab('stall-run', PATIENT, '2093-3', 'Cholesterol', 201, 'mg/dL'),
      lab('stall-wb', PATIENT, '2093-3', 'Cholesterol', 201, 'mg/dL'),
      lab('stall-hdl', PATIENT, '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel('stall-bp', PATIENT, 120, 78),
      smokingStatus('stall-smk', PATIENT, ...NEVER_SMOKER),
    ]);
    aegle = await startAegle({
      adminToken: ADMIN,
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      env: { AEGLE_STALLED_INTERVAL_MS: '200', AEGLE_MAX_STALLED_COUNT: '0' },
    });
    db = aegle.db;
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  /** Takes the next job of `queue` as a worker that then dies: a 200 ms lock, never renewed. */
  async function takeAndDie(queue: QueueName): Promise<Job> {
    const dying = new Worker(queue, null, {
      connection: redisConnection(aegle.config.redisUrl),
      prefix: aegle.config.queuePrefix,
      autorun: false,
      lockDuration: 200,
    });
    try {
      const job = await dying.getNextJob('dead-worker-token', { block: true });
      if (!job) throw new Error(`no job on ${queue}`);
      return job;
    } finally {
      // It never ran the job: the job stays active, its lock expiring, as after a SIGKILL.
      await dying.close();
    }
  }

  const notify = (focusId: string, version: number) =>
    fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        ...lab(focusId, PATIENT, '2093-3', 'Cholesterol', 200 + version, 'mg/dL'),
        meta: { versionId: String(version) },
      }),
    }).then((response) => expect(response.status).toBe(200));

  const eventOf = async (focusId: string, version: number) =>
    (
      await db.query<Array<{ id: string; status: string; run_id: string | null; outcome: string | null }>>(
        `SELECT e.id::text, e.status, r.id::text AS run_id, r.outcome FROM event e
         LEFT JOIN plugin_run r ON r.event_id = e.id WHERE e.focus_id = $1 AND e.focus_version = $2`,
        [focusId, String(version)],
      )
    )[0];

  const admin = <T>(path: string) =>
    json<T>(fetch(`${aegle.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } }));

  interface FailedJobView {
    queue: string;
    jobId: string;
    payload: { eventId?: string; runId?: string };
    reason: string;
  }
  const failedJobsFor = async (id: string) =>
    (await admin<FailedJobView[]>('/api/audit/failed-jobs')).filter(
      (f) => f.payload.eventId === id || f.payload.runId === id,
    );

  const queue = (name: QueueName) => aegle.app.get<Queue>(getQueueToken(name), { strict: false });

  /** Waits until the router has taken version 2 of the resource twice, so held it back twice. */
  async function heldTwice(focusId: string): Promise<void> {
    const v2 = await eventually(async () => (await eventOf(focusId, 2))?.id, 'v2 stored');
    await takenAgain(queue(QUEUES.events), [v2], [0], 2, 'the router to take v2 twice');
  }

  /** Holds one Aegle worker off its queue while `take` runs, so the dying worker gets the job. */
  async function withWorkerPaused<T>(worker: Worker, take: () => Promise<T>): Promise<T> {
    await worker.pause();
    try {
      return await take();
    } finally {
      worker.resume();
    }
  }

  it('routing: a failed job with the reason, once, visible through the admin API', async () => {
    const router = aegle.app.get(RouterProcessor, { strict: false }).worker;
    const job = await withWorkerPaused(router, async () => {
      await notify('stall-route', 1);
      await aegle.app.get(EventEnqueuer, { strict: false }).settled();
      return takeAndDie(QUEUES.events);
    });
    const failed = await eventually(async () => {
      const found = await failedJobsFor(job.data.eventId);
      return found.length > 0 ? found : undefined;
    }, 'the stalled routing job to be recorded');
    expect(failed).toEqual([
      expect.objectContaining({
        queue: QUEUES.events,
        jobId: job.id,
        reason: expect.stringMatching(STALLED),
      }),
    ]);
    expect(await queue(QUEUES.events).getJobState(job.id!)).toBe('failed');
    // Never routed, and the stalled checks since found nothing more: still once.
    await stalledChecksRun(queue(QUEUES.events), 3);
    expect(await failedJobsFor(job.data.eventId)).toHaveLength(1);
    expect((await eventOf('stall-route', 1)).status).toBe('accepted');
  });

  it('plugin run: a failed job with the reason, and the next version of the resource goes on', async () => {
    const runs = aegle.app.get(RunProcessor, { strict: false }).worker;
    const job = await withWorkerPaused(runs, async () => {
      await notify('stall-run', 1);
      await eventually(async () => (await eventOf('stall-run', 1))?.run_id ?? undefined, 'v1 routed');
      const taken = await takeAndDie(QUEUES.runs);
      // v1's run is held by a dead worker: v2 waits for it, however often the router asks.
      await notify('stall-run', 2);
      await heldTwice('stall-run');
      expect(await eventOf('stall-run', 2)).toEqual(
        expect.objectContaining({ status: 'accepted', run_id: null }),
      );
      return taken;
    });
    const v1 = await eventOf('stall-run', 1);
    expect(job.data.runId).toBe(v1.run_id);

    const v2 = await eventually(async () => {
      const event = await eventOf('stall-run', 2);
      return event.outcome === 'succeeded' ? event : undefined;
    }, 'v2 to run once v1 gave up');
    expect(v2.status).toBe('routed');
    expect(await failedJobsFor(v1.run_id!)).toEqual([
      expect.objectContaining({ queue: QUEUES.runs, jobId: job.id, reason: expect.stringMatching(STALLED) }),
    ]);
    expect((await eventOf('stall-run', 1)).outcome).toBe('pending');
    await aegle.waitForIdle();
  });

  it('write-back: a dead letter with the reason, once, and the next version of the resource goes on', async () => {
    const writeback = aegle.app.get(WritebackProcessor, { strict: false }).worker;
    // The run's job makes the first attempt: the EHR refuses it once (503), so the write-back queue
    // gets the result to retry, and a worker dies holding that job.
    let refused = 0;
    ehr.onRequest((req) =>
      req.method === 'POST' &&
      (req.body as { type?: string } | undefined)?.type === 'transaction' &&
      refused++ === 0
        ? { status: 503, body: { resourceType: 'OperationOutcome', issue: [] } }
        : undefined,
    );
    const job = await withWorkerPaused(writeback, async () => {
      await notify('stall-wb', 1);
      await eventually(
        async () => ((await eventOf('stall-wb', 1))?.outcome === 'succeeded' ? true : undefined),
        'v1 run',
      );
      // The retry waits its backoff on the queue: due now, for the dying worker to take.
      const { run_id } = await eventOf('stall-wb', 1);
      const retry = await eventually(
        async () => (await queue(QUEUES.writeback).getJob(run_id!)) ?? undefined,
        'the write-back retry',
      );
      ehr.onRequest(undefined);
      await retry.promote();
      const taken = await takeAndDie(QUEUES.writeback);
      await notify('stall-wb', 2);
      await heldTwice('stall-wb');
      expect(await eventOf('stall-wb', 2)).toEqual(
        expect.objectContaining({ status: 'accepted', run_id: null }),
      );
      return taken;
    });
    const v1 = await eventOf('stall-wb', 1);
    expect(job.data.runId).toBe(v1.run_id);

    await eventually(async () => {
      const event = await eventOf('stall-wb', 2);
      return event.outcome === 'succeeded' ? event : undefined;
    }, 'v2 to run once v1 was dead-lettered');
    await aegle.waitForIdle();

    interface DeadLetterView {
      runId: string;
      status: string;
      reason: string;
    }
    const letters = (await admin<DeadLetterView[]>('/api/dead-letters')).filter((d) => d.runId === v1.run_id);
    expect(letters).toEqual([
      expect.objectContaining({ status: 'open', reason: expect.stringMatching(STALLED) }),
    ]);
    expect(await queue(QUEUES.writeback).getJobState(job.id!)).toBe('failed');
    const attempts = await db.query<Array<{ outcome: string }>>(
      `SELECT outcome FROM write_back WHERE run_id = $1 ORDER BY created_at`,
      [v1.run_id],
    );
    expect(attempts).toEqual([{ outcome: 'retrying' }, { outcome: 'dead' }]);
    // v2's result reached the EHR.
    const v2 = await eventOf('stall-wb', 2);
    const written = await db.query<Array<{ outcome: string }>>(
      `SELECT outcome FROM write_back WHERE run_id = $1`,
      [v2.run_id],
    );
    expect(written.map((w) => w.outcome)).toContain('created');
  });
});

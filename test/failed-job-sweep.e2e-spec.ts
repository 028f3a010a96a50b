import { getQueueToken } from '@nestjs/bullmq';
import { Queue, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { FailedJobRepository } from '@aegle/store';
import { QUEUES, redisConnection } from '@aegle/jobs';
import { FailedJobRecorder } from '../apps/engine/src/workers/failed-job.recorder';
import { RunProcessor } from '../libs/runs/src/run.processor';
import { RunningAegle, startAegle } from './support/aegle-app';

jest.setTimeout(60_000);

/**
 * A job that gave up while nobody could record it (PostgreSQL down at that moment, or the worker
 * gone right after failing it) stays in BullMQ's failed set, where neither a retry nor the work
 * reconciler reaches it (same job id). The sweep finds it there and records it, once.
 */
describe('failed jobs missed when they failed are recorded by the sweep', () => {
  let aegle: RunningAegle;

  beforeAll(async () => {
    aegle = await startAegle({
      sources: [{ id: 'sweep-ehr', fhirBaseUrl: 'http://127.0.0.1:9/fhir', bearerToken: 'sweep-token' }],
    });
  });

  afterAll(() => aegle?.close());

  const recordedRows = (jobId: string) =>
    aegle.db.query<Array<{ queue: string; reason: string; attempts: number }>>(
      `SELECT queue, reason, attempts FROM failed_job WHERE job_id = $1`,
      [jobId],
    );

  /** Fails a job of the runs queue for good outside Aegle's workers, so no 'failed' event reaches them. */
  async function failUnseen(jobId: string): Promise<void> {
    // Aegle's own run worker stops, so the outsider takes the job (the sweep reads the queue).
    await aegle.app.get(RunProcessor).worker.close();
    const outsider = new Worker(QUEUES.runs, null, {
      connection: redisConnection(aegle.config.redisUrl),
      prefix: aegle.config.queuePrefix,
      autorun: false,
    });
    try {
      const queue = aegle.app.get<Queue>(getQueueToken(QUEUES.runs));
      await queue.add('run', { runId: randomUUID() }, { jobId, attempts: 1 });
      const job = await outsider.getNextJob('outsider-token', { block: true });
      expect(job?.id).toBe(jobId);
      await job!.moveToFailed(new Error('the EHR was unreachable'), 'outsider-token');
      expect(await job!.getState()).toBe('failed');
    } finally {
      await outsider.close();
    }
  }

  it('records a job found in the failed set once, however often it sweeps or the job is reported', async () => {
    const jobId = `sweep-${randomUUID()}`;
    await failUnseen(jobId);
    expect(await recordedRows(jobId)).toEqual([]);

    const recorder = aegle.app.get(FailedJobRecorder);
    expect(await recorder.sweep()).toBe(1);
    expect(await recordedRows(jobId)).toEqual([
      { queue: QUEUES.runs, reason: 'the EHR was unreachable', attempts: 1 },
    ]);

    // Swept again, and reported again by a worker's 'failed' event: still one record.
    expect(await recorder.sweep()).toBe(0);
    const again = await aegle.app.get(FailedJobRepository).record({
      queue: QUEUES.runs,
      jobId,
      jobName: 'run',
      payload: {},
      sourceId: null,
      attempts: 1,
      reason: 'the EHR was unreachable',
    });
    expect(again).toBeNull();
    expect(await recordedRows(jobId)).toHaveLength(1);

    // Chained in the audit trail like any failure recorded when it happened.
    const [row] = await aegle.db.query<Array<{ id: string }>>(`SELECT id FROM failed_job WHERE job_id = $1`, [
      jobId,
    ]);
    const [link] = await aegle.db.query<Array<{ action: string }>>(
      `SELECT action FROM audit_log WHERE record_type = 'failed_job' AND record_id = $1`,
      [row.id],
    );
    expect(link).toEqual({ action: 'dead' });
  });
});

import { Job, UnrecoverableError } from 'bullmq';
import { failedForStalling, finalFailureReason } from './stalled-jobs';

const LIMIT = 'job stalled more than allowable limit';
const job = (fields: Partial<Pick<Job, 'stalledCounter' | 'deferredFailure'>>) =>
  ({ stalledCounter: 0, ...fields }) as Job;

describe('jobs failed for stalling', () => {
  it('are the ones BullMQ failed with their deferred stall failure', () => {
    expect(
      failedForStalling(job({ stalledCounter: 1, deferredFailure: LIMIT }), new UnrecoverableError(LIMIT)),
    ).toBe(true);
  });

  it('are not jobs that stalled once and later failed on their own', () => {
    expect(failedForStalling(job({ stalledCounter: 1 }), new Error('EHR answered 500'))).toBe(false);
    expect(failedForStalling(job({}), new UnrecoverableError('refused: 422'))).toBe(false);
  });

  it('say how often their worker stopped', () => {
    const error = new UnrecoverableError(LIMIT);
    expect(finalFailureReason(job({ stalledCounter: 1, deferredFailure: LIMIT }), error)).toBe(
      `the worker holding it stopped once: ${LIMIT}`,
    );
    expect(finalFailureReason(job({ stalledCounter: 3, deferredFailure: LIMIT }), error)).toBe(
      `the worker holding it stopped 3 times: ${LIMIT}`,
    );
    expect(finalFailureReason(job({}), new Error('no such plugin'))).toBe('no such plugin');
  });
});

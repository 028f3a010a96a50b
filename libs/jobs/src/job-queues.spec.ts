import { JOB_NAMES, replayable } from './job-queues';
import { QUEUES } from './queues';

describe('replayable', () => {
  it.each(Object.entries(JOB_NAMES))('takes a %s job named %s back on its queue', (queue, jobName) => {
    expect(replayable({ queue, jobName })).toBe(true);
  });

  it('refuses a job under another queue’s name, which no processor of that queue handles', () => {
    expect(replayable({ queue: QUEUES.events, jobName: 'run' })).toBe(false);
    expect(replayable({ queue: QUEUES.writeback, jobName: 'route' })).toBe(false);
  });

  it('refuses a queue that no longer exists', () => {
    expect(replayable({ queue: 'aegle-inference', jobName: 'run' })).toBe(false);
  });
});

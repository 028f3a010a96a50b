import { ConfigError, loadConfig } from './load-config';

const sources = [
  { id: 'ehr-a', fhirBaseUrl: 'http://127.0.0.1/fhir', inbound: { bearerToken: 'a-long-token' } },
];

function problemsOf(inference: unknown): string[] {
  try {
    loadConfig({}, { sources, inference });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('inference configuration', () => {
  it('defaults to CPU threads of 1, full graph optimisation, batches of 64 without waiting, one run at a time', () => {
    expect(loadConfig({}, { sources }).inference).toEqual({
      intraOpThreads: 1,
      interOpThreads: 1,
      graphOptimization: 'all',
      cudaDeviceId: 0,
      batching: { maxBatchSize: 64, maxQueueDelayMicroseconds: 0 },
      concurrency: 1,
    });
  });

  it('keeps the defaults of what a partial section leaves out', () => {
    const { inference } = loadConfig(
      {},
      { sources, inference: { execution: 'prefer-gpu', batching: { maxBatchSize: 8 } } },
    );
    expect(inference).toMatchObject({
      execution: 'prefer-gpu',
      batching: { maxBatchSize: 8, maxQueueDelayMicroseconds: 0 },
      concurrency: 1,
    });
  });

  it('names every bad value', () => {
    const problems = problemsOf({
      execution: 'gpu',
      batching: { maxBatchSize: 0, maxQueueDelayMicroseconds: -1 },
      concurrency: 0,
      threads: 4,
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/inference\.execution: /),
        expect.stringMatching(/inference\.batching\.maxBatchSize: /),
        expect.stringMatching(/inference\.batching\.maxQueueDelayMicroseconds: /),
        expect.stringMatching(/inference\.concurrency: /),
        expect.stringMatching(/inference: .*threads/),
      ]),
    );
  });
});

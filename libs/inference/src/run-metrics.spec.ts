import { inferenceBatchSize, inferenceRequestsTotal, inferenceSeconds } from '@aegle/telemetry';
import { RunMetrics } from './run-metrics';

/** One of the batch-size histogram's samples for the test's model. */
async function batchSize(name: string): Promise<number> {
  const { values } = await inferenceBatchSize.get();
  return values.find((v) => v.labels.model === 'metrics@1' && v.metricName === name)?.value ?? 0;
}

describe('RunMetrics', () => {
  afterEach(() => {
    inferenceSeconds.remove({ model: 'metrics@1', provider: 'cpu' });
    inferenceBatchSize.remove({ model: 'metrics@1' });
    inferenceRequestsTotal.remove({ model: 'metrics@1', provider: 'cpu', outcome: 'ok' });
    inferenceRequestsTotal.remove({ model: 'metrics@1', provider: 'cpu', outcome: 'failed' });
  });

  it('buffers runs, yet every read sees all of them, past the buffer’s size too', async () => {
    const metrics = new RunMetrics('metrics@1', 'cpu');
    for (let run = 0; run < 300; run++) metrics.succeeded(0.00004, 64);
    metrics.succeeded(0.00002, 3);
    metrics.failed();
    expect(await batchSize('aegle_inference_batch_size_count')).toBe(301);
    expect(await batchSize('aegle_inference_batch_size_sum')).toBe(300 * 64 + 3);
    const { values } = await inferenceRequestsTotal.get();
    const requests = (outcome: string) =>
      values.find((v) => v.labels.model === 'metrics@1' && v.labels.outcome === outcome)?.value;
    expect(requests('ok')).toBe(300 * 64 + 3);
    expect(requests('failed')).toBe(1);
    metrics.close();
  });

  it('hands its last runs over when closed', async () => {
    const metrics = new RunMetrics('metrics@1', 'cpu');
    metrics.succeeded(0.001, 5);
    metrics.close();
    const { values } = await inferenceSeconds.get();
    expect(
      values.find((v) => v.labels.model === 'metrics@1' && v.metricName === 'aegle_inference_seconds_count')
        ?.value,
    ).toBe(1);
  });
});

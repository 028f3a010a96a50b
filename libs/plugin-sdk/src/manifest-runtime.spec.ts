import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestSchema } from './manifest';

/** The PCE reference plugin's manifest with `model` changed as given. */
function withModel(model: Record<string, unknown>) {
  const manifest = JSON.parse(
    readFileSync(join(__dirname, '../../../plugins/prognosis-ascvd-pce/plugin.json'), 'utf8'),
  ) as { model: Record<string, unknown> };
  return manifestSchema.safeParse({ ...manifest, model: { ...manifest.model, ...model } });
}

describe('manifest model.batching and model.concurrency', () => {
  it('are optional, so Aegle’s defaults apply', () => {
    const parsed = withModel({});
    expect(parsed.success).toBe(true);
    expect(parsed.data?.model.batching).toBeUndefined();
    expect(parsed.data?.model.concurrency).toBeUndefined();
  });

  it('accept a vendor’s batch size, queue delay and concurrency', () => {
    const parsed = withModel({
      batching: { maxBatchSize: 32, maxQueueDelayMicroseconds: 500 },
      concurrency: 2,
    });
    expect(parsed.data?.model).toMatchObject({
      batching: { maxBatchSize: 32, maxQueueDelayMicroseconds: 500 },
      concurrency: 2,
    });
  });

  it('reject sizes that cannot work and unknown keys, naming them', () => {
    const parsed = withModel({ batching: { maxBatchSize: 0, maxQueueDelay: 5 }, concurrency: 0 });
    const paths = parsed.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining(['model.batching.maxBatchSize', 'model.batching', 'model.concurrency']),
    );
  });
});

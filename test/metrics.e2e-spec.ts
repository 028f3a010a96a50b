import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const TOKEN = 'metrics-inbound-token';

/** One sample of a Prometheus text exposition, e.g. `aegle_x_total{a="b"} 3`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const found = Object.fromEntries(
      [...(/\{(.*)\}/.exec(line)?.[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

describe('/metrics: what an operator scrapes', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    ehr = await startFhirServer();
    aegle = await startAegle({ sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }] });
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  const notify = (body: unknown, token = TOKEN, source = 'test-ehr') =>
    fetch(`${aegle.url}/fhir/notify/${source}`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  async function seed(id: string): Promise<fhir4.Observation> {
    const [, cholesterol] = await ehr.seed([
      patient(id, { gender: 'male', age: 61 }),
      lab(`${id}-tc`, id, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 221, 'mg/dL'),
      lab(`${id}-hdl`, id, '2085-9', 'HDL Cholesterol', 1.1, 'mmol/L'),
      bloodPressurePanel(`${id}-bp`, id, 138, 85),
      smokingStatus(`${id}-smk`, id, ...NEVER_SMOKER),
    ]);
    return cholesterol as fhir4.Observation;
  }

  it('counts notifications, plugin runs, inference, write-backs, dead letters and queue depths', async () => {
    const ok = await seed('m-1');
    const refusedByEhr = await seed('m-2');
    const incomplete = (await ehr.seed([patient('m-3', { gender: 'female', age: 50 })]))[0];

    // The EHR is busy for m-2's result once (503: the run's job hands it to the write-back queue),
    // then refuses it for good (422): a dead letter, and a write-back job failed for good.
    let m2Writes = 0;
    ehr.onRequest((req) => {
      // Write-back sends each result as a transaction Bundle (or a plain POST on EHRs without them).
      const body = req.body as { resourceType?: string; entry?: fhir4.BundleEntry[] } | undefined;
      const observations = [
        body as fhir4.Observation | undefined,
        ...(body?.entry ?? []).map((e) => e.resource as fhir4.Observation),
      ];
      if (
        req.method === 'POST' &&
        observations.some((o) => o?.resourceType === 'Observation' && o.subject?.reference === 'Patient/m-2')
      )
        return m2Writes++ === 0
          ? {
              status: 503,
              body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] },
            }
          : {
              status: 422,
              body: {
                resourceType: 'OperationOutcome',
                issue: [{ severity: 'error', code: 'business-rule' }],
              },
            };
    });
    expect((await notify(ok)).status).toBe(200);
    expect((await notify(ok)).status).toBe(200); // duplicate
    expect((await notify(refusedByEhr)).status).toBe(200);
    expect((await notify(incomplete)).status).toBe(200);
    expect((await notify(ok, 'wrong-token-123')).status).toBe(401);
    expect((await notify(ok, TOKEN, 'nobody')).status).toBe(404);
    await aegle.waitForIdle();
    ehr.onRequest(undefined);

    const response = await fetch(`${aegle.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();

    expect(sample(text, 'aegle_notifications_total', { source: 'test-ehr', outcome: 'accepted' })).toBe(3);
    expect(sample(text, 'aegle_notifications_total', { source: 'test-ehr', outcome: 'duplicate' })).toBe(1);
    expect(sample(text, 'aegle_notifications_total', { source: 'test-ehr', outcome: 'rejected_401' })).toBe(
      1,
    );
    expect(sample(text, 'aegle_notifications_total', { source: 'unknown', outcome: 'rejected_404' })).toBe(1);

    const pce = { plugin: 'prognosis-ascvd-pce', version: '1.0.0' };
    expect(sample(text, 'aegle_plugin_runs_total', { ...pce, outcome: 'succeeded', provider: 'cpu' })).toBe(
      2,
    );
    expect(sample(text, 'aegle_plugin_runs_total', { ...pce, outcome: 'skipped', provider: 'none' })).toBe(1);
    expect(
      sample(text, 'aegle_inference_seconds_count', { model: 'prognosis-ascvd-pce@1.0.0' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sample(text, 'aegle_inference_batch_size_count', { model: 'prognosis-ascvd-pce@1.0.0' }),
    ).toBeGreaterThanOrEqual(2);

    expect(sample(text, 'aegle_writeback_attempts_total', { source: 'test-ehr', outcome: 'created' })).toBe(
      1,
    );
    expect(sample(text, 'aegle_writeback_attempts_total', { source: 'test-ehr', outcome: 'retrying' })).toBe(
      1,
    );
    expect(sample(text, 'aegle_writeback_attempts_total', { source: 'test-ehr', outcome: 'dead' })).toBe(1);
    expect(sample(text, 'aegle_dead_letters_total', { source: 'test-ehr', reason: 'refused' })).toBe(1);
    expect(sample(text, 'aegle_failed_jobs_total', { queue: 'aegle-writeback' })).toBe(1);
    expect(sample(text, 'aegle_queue_depth', { queue: 'aegle-writeback', state: 'failed' })).toBe(1);
    expect(sample(text, 'aegle_queue_depth', { queue: 'aegle-events', state: 'waiting' })).toBe(0);
    expect(sample(text, 'aegle_queue_depth', { queue: 'aegle-runs-gpu', state: 'waiting' })).toBe(0);

    // The audit chain's head as the audit trail has it: its sequence number, its hash as the label.
    const [head] = await aegle.db.query<Array<{ seq: string; entry_hash: string }>>(
      `SELECT seq::text AS seq, entry_hash FROM audit_chain_head WHERE id = 1`,
    );
    expect(Number(head.seq)).toBeGreaterThan(0);
    expect(sample(text, 'aegle_audit_chain_head', { hash: head.entry_hash })).toBe(Number(head.seq));
  });
});

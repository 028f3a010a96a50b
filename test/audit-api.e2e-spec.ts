import { AuditChain, ObservationStory, Page, RunRecord, VerifyReport, WriteBackRecord } from '@aegle/store';
import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const TOKEN = 'e2e-inbound-token';
const ADMIN = 'e2e-admin-token-123';
const PCE_CODE = '79423-0';

describe('the audit trail through the app: story of a result, listings, verify', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    ehr = await startFhirServer();
    aegle = await startAegle({
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      adminToken: ADMIN,
    });
  }, 30_000);

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  const notify = (body: unknown) =>
    fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
  const api = (path: string, token = ADMIN) =>
    fetch(`${aegle.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  /** Seeds a complete PCE patient and notifies Aegle of the cholesterol; returns the seeded inputs. */
  async function completePatient(id: string, age = 55) {
    const seeded = await ehr.seed([
      patient(id, { gender: 'female', age }),
      lab(`tc-${id}`, id, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 213, 'mg/dL'),
      lab(`hdl-${id}`, id, '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel(`bp-${id}`, id, 120, 78),
      smokingStatus(`smk-${id}`, id, ...NEVER_SMOKER),
    ]);
    expect((await notify(seeded[1])).status).toBe(200);
    return seeded;
  }

  async function riskObservation(patientId: string): Promise<fhir4.Observation> {
    const bundle = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Observation?subject=Patient/${patientId}&code=http://loinc.org|${PCE_CODE}`),
    );
    expect(bundle.entry).toHaveLength(1);
    return bundle.entry![0].resource as fhir4.Observation;
  }

  it('tells the whole story of one Observation it wrote, and vouches for it', async () => {
    const [, cholesterol, hdl, bp] = await completePatient('story-1');
    await aegle.waitForIdle();
    const risk = await riskObservation('story-1');

    const response = await api(`/api/observations/${risk.id}/story`);
    expect(response.status).toBe(200);
    const story = await json<ObservationStory>(response);

    expect(story.observation).toMatchObject({ reference: `Observation/${risk.id}`, sourceId: 'test-ehr' });
    expect(story.notification).toMatchObject({
      sourceId: 'test-ehr',
      httpStatus: 200,
      shape: 'rest-hook-resource',
      bodySha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      headers: expect.objectContaining({ 'content-type': 'application/fhir+json' }),
    });
    expect(story.notification.headers).not.toHaveProperty('authorization');
    expect(story.event).toMatchObject({
      notificationId: story.notification.id,
      interaction: expect.any(String),
      focus: `Observation/${cholesterol.id}/_history/${cholesterol.meta!.versionId}`,
      status: 'routed',
    });
    expect(story.run).toMatchObject({
      eventId: story.event.id,
      patientRef: 'Patient/story-1',
      outcome: 'succeeded',
      model: {
        pluginId: 'prognosis-ascvd-pce',
        pluginVersion: '1.0.0',
        modelSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        executionProvider: 'cpu',
      },
    });
    const inputs = story.run.inputs as Record<string, { value: number; source?: { reference: string } }>;
    for (const [name, resource] of [
      ['totalCholesterol', cholesterol],
      ['hdlCholesterol', hdl],
      ['systolicBp', bp],
    ] as const) {
      expect(inputs[name].source?.reference).toBe(
        `Observation/${resource.id}/_history/${resource.meta!.versionId}`,
      );
    }
    expect(inputs.totalCholesterol.value).toBe(213);
    const outputs = story.run.outputs as { findings: Array<{ value: number }> };
    expect(outputs.findings[0].value).toBe(risk.valueQuantity!.value);
    expect(story.writeBacks).toEqual([
      expect.objectContaining({ resourceId: risk.id, outcome: 'created', httpStatus: 201, attempt: 1 }),
    ]);
    // Every step is in the chain, in order, and intact.
    expect(story.audit.intact).toBe(true);
    expect(story.audit.entries.map((e) => `${e.recordType}:${e.action}`)).toEqual([
      'notification:received',
      'event:accepted',
      'plugin_run:opened',
      'event:routed',
      'plugin_run:succeeded',
      'write_back:created',
    ]);

    // An edit of the stored run shows in its story at once.
    await aegle.db.query(`UPDATE plugin_run SET latency_ms = 0 WHERE id = $1`, [story.run.id]);
    const after = await json<ObservationStory>(api(`/api/observations/${risk.id}/story`));
    expect(after.audit.intact).toBe(false);
    expect(after.audit.problems).toEqual([
      expect.stringMatching(`plugin_run ${story.run.id} no longer matches`),
    ]);
    await aegle.db.query(`UPDATE plugin_run SET latency_ms = $2 WHERE id = $1`, [
      story.run.id,
      story.run.latencyMs,
    ]);
    expect((await json<ObservationStory>(api(`/api/observations/${risk.id}/story`))).audit.intact).toBe(true);
  });

  it('answers 404 for an Observation Aegle did not write, 401 without the admin token', async () => {
    expect((await api('/api/observations/not-ours/story')).status).toBe(404);
    expect((await api('/api/audit/runs', 'wrong-token-000')).status).toBe(401);
  });

  it('lists runs filtered by patient, plugin and outcome, a page at a time', async () => {
    for (const id of ['page-1', 'page-2', 'page-3']) await completePatient(id);
    await completePatient('page-young', 30); // outside the validated range: skipped
    await aegle.waitForIdle();

    const seen: RunRecord[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query = new URLSearchParams({ plugin: 'prognosis-ascvd-pce', outcome: 'succeeded', limit: '2' });
      if (cursor) query.set('cursor', cursor);
      const page: Page<RunRecord> = await json<Page<RunRecord>>(api(`/api/audit/runs?${query}`));
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    const patients = seen.map((r) => r.patientRef);
    expect(new Set(patients).size).toBe(patients.length);
    expect(patients).toEqual(
      expect.arrayContaining(['Patient/page-1', 'Patient/page-2', 'Patient/page-3', 'Patient/story-1']),
    );
    expect(patients).not.toContain('Patient/page-young');
    expect(pages).toBe(Math.ceil(seen.length / 2));
    // Newest first.
    const times = seen.map((r) => r.createdAt);
    expect([...times].sort().reverse()).toEqual(times);

    const young = await json<Page<RunRecord>>(api('/api/audit/runs?patient=Patient/page-young'));
    expect(young.items).toEqual([expect.objectContaining({ outcome: 'skipped' })]);
    expect(young.items[0].reason).toMatch(/age: 30 is outside/);

    const writes = await json<Page<WriteBackRecord>>(
      api('/api/audit/write-backs?patient=Patient/page-2&outcome=created'),
    );
    expect(writes.items).toEqual([expect.objectContaining({ pluginId: 'prognosis-ascvd-pce', attempt: 1 })]);

    const events = await json<Page<{ focus: string }>>(api('/api/audit/events?patient=Patient/page-3'));
    expect(events.items).toEqual([
      expect.objectContaining({ focus: expect.stringMatching(/^Observation\/tc-page-3/) }),
    ]);

    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await json<Page<RunRecord>>(api(`/api/audit/runs?from=${future}`))).items).toEqual([]);
  });

  it('refuses bad filters and forged cursors with 400', async () => {
    for (const query of ['limit=0', 'from=yesterday', 'patient=Bob', 'cursor=bm9wZQ', 'colour=blue']) {
      const response = await api(`/api/audit/runs?${query}`);
      expect(response.status).toBe(400);
    }
  });

  it('records a refused write-back as a chained dead letter, and its replay by an operator', async () => {
    ehr.onRequest((req) =>
      req.method === 'POST' && (/\/Observation$/.test(req.path) || /\/fhir\/?$/.test(req.path))
        ? {
            status: 422,
            body: {
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'error', code: 'invalid', diagnostics: 'refused by the EHR' }],
            },
          }
        : undefined,
    );
    try {
      // The refusal is a dead letter in the run's own job (its first write-back attempt).
      await completePatient('refused-1');
      await aegle.waitForIdle();
      await aegle.app.get(AuditChain).idle();
    } finally {
      ehr.onRequest(undefined);
    }
    const [run] = await aegle.db.query(`SELECT id FROM plugin_run WHERE patient_ref = 'Patient/refused-1'`);
    const writes = await json<Page<WriteBackRecord>>(api('/api/audit/write-backs?patient=Patient/refused-1'));
    expect(writes.items).toEqual([expect.objectContaining({ outcome: 'dead', httpStatus: 422, attempt: 1 })]);
    const letters = await aegle.db.query(
      `SELECT run_id, source_id, plugin_id, status, http_status, attempts FROM dead_letter`,
    );
    expect(letters).toEqual([
      {
        run_id: run.id,
        source_id: 'test-ehr',
        plugin_id: 'prognosis-ascvd-pce',
        status: 'open',
        http_status: 422,
        attempts: 1,
      },
    ]);

    // Once the EHR accepts again, an operator replays it: written once, recorded who replayed it.
    const [letter] = await json<Array<{ id: string }>>(api('/api/dead-letters?status=open'));
    const replay = await fetch(`${aegle.url}/api/dead-letters/${letter.id}/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'x-aegle-actor': 'dr-ops' },
    });
    expect(replay.status).toBe(202);
    await aegle.waitForIdle();
    await riskObservation('refused-1');
    await aegle.app.get(AuditChain).idle();
    const [resolved] = await aegle.db.query(`SELECT status, replay_count FROM dead_letter WHERE id = $1`, [
      letter.id,
    ]);
    expect(resolved).toEqual({ status: 'resolved', replay_count: 1 });
    const afterReplay = await json<Page<WriteBackRecord>>(
      api('/api/audit/write-backs?patient=Patient/refused-1&outcome=created'),
    );
    expect(afterReplay.items).toHaveLength(1);
    const actions = await aegle.db.query(
      `SELECT actor, action, http_status FROM admin_action WHERE target LIKE $1 ORDER BY created_at`,
      [`%${letter.id}%`],
    );
    expect(actions).toEqual(
      expect.arrayContaining([
        { actor: 'dr-ops', action: 'dead-letter.replay', http_status: null },
        { actor: 'dr-ops', action: 'POST /api/dead-letters/:id/replay', http_status: 202 },
      ]),
    );

    const report = await json<VerifyReport>(api('/api/audit/verify'));
    expect(report.problems).toEqual([]);
  });

  it('verifies the chain over HTTP, records who asked, and names a tampered row', async () => {
    const clean = await json<VerifyReport>(api('/api/audit/verify'));
    expect(clean.problems).toEqual([]);
    expect(clean.valid).toBe(true);

    const [action] = await aegle.db.query(
      `SELECT actor, action, http_status FROM admin_action WHERE action = 'GET /api/audit/verify'`,
    );
    expect(action).toEqual({ actor: 'admin-token', action: 'GET /api/audit/verify', http_status: 200 });

    const [run] = await aegle.db.query(`SELECT id FROM plugin_run WHERE patient_ref = 'Patient/page-1'`);
    await aegle.db.query(`UPDATE plugin_run SET outputs = '{}' WHERE id = $1`, [run.id]);
    const broken = await json<VerifyReport>(api('/api/audit/verify'));
    expect(broken.valid).toBe(false);
    expect(broken.firstBroken).toMatchObject({ recordType: 'plugin_run', recordId: run.id });
  });
});

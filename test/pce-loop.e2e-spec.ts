import { DataSource } from 'typeorm';
import { pooledCohortRisk } from '../plugins/prognosis-ascvd-pce/model/pce-reference';
import { RunningAegle } from './support/aegle-app';
import { TestFhirServer } from './support/fhir-server';
import { Loop, startLoop } from './support/loop';
import { validateR4 } from './support/fhir-validation';
import { json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const PCE_CODE = '79423-0';

describe('the whole loop: notification in, Observation out, audited', () => {
  let loop: Loop;
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let db: DataSource;

  beforeAll(async () => {
    loop = await startLoop();
    ({ ehr, aegle } = loop);
    db = aegle.db;
  });

  afterAll(() => loop?.close());

  const notify: Loop['notify'] = (body, init) => loop.notify(body, init);
  const riskObservations = (patientId: string) =>
    loop.observations(patientId, `http://loinc.org|${PCE_CODE}`);

  it('writes the 10-year ASCVD risk to the EHR for a complete patient, with its audit trail', async () => {
    const [, cholesterol, hdl, bp] = await ehr.seed([
      patient('pce-1', { gender: 'female', age: 55 }),
      lab('tc-1', 'pce-1', '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 213, 'mg/dL'),
      lab('hdl-1', 'pce-1', '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel('bp-1', 'pce-1', 120, 78),
      smokingStatus('smk-1', 'pce-1', ...NEVER_SMOKER),
    ]);

    const response = await notify(cholesterol);
    expect(response.status).toBe(200);
    const outcome = await json<fhir4.OperationOutcome>(response);
    expect(outcome.resourceType).toBe('OperationOutcome');
    await aegle.waitForIdle();

    const [risk, ...others] = await riskObservations('pce-1');
    expect(others).toHaveLength(0);
    const expected =
      100 *
      pooledCohortRisk({
        age: 55,
        totalCholesterol: 213,
        hdlCholesterol: 50,
        systolicBp: 120,
        bpTreated: false,
        currentSmoker: false,
        diabetes: false,
        female: true,
        africanAmerican: false,
      });
    expect(risk.valueQuantity).toMatchObject({ unit: '%', system: 'http://unitsofmeasure.org', code: '%' });
    expect(risk.valueQuantity!.value).toBeCloseTo(expected, 1);
    expect(Math.abs(risk.valueQuantity!.value! - 2.1)).toBeLessThanOrEqual(0.1); // the guideline's worked example
    expect(risk.status).toBe('preliminary');
    expect(risk.subject?.reference).toBe('Patient/pce-1');
    expect(risk.meta?.security).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'AIAST' })]));
    expect(risk.interpretation?.[0].text).toMatch(/^Low/);
    const derived = (risk.derivedFrom ?? []).map((r) => r.reference);
    for (const input of [cholesterol, hdl, bp]) {
      expect(derived).toContain(`Observation/${input.id}/_history/${input.meta!.versionId}`);
    }
    expect(risk.device?.reference).toMatch(/^Device\//);
    expect(() => validateR4(risk as never)).not.toThrow();

    const provenance = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Provenance?target=Observation/${risk.id}`),
    );
    expect(provenance.entry).toHaveLength(1);
    validateR4(provenance.entry![0].resource as never);
    const device = await json<fhir4.Device>(fetch(`${ehr.baseUrl}/${risk.device!.reference}`));
    validateR4(device as never);
    expect(device.version).toEqual(expect.arrayContaining([{ value: '1.0.0' }]));

    const [run] = await db.query(`SELECT * FROM plugin_run WHERE patient_ref = 'Patient/pce-1'`);
    expect(run).toMatchObject({
      plugin_id: 'prognosis-ascvd-pce',
      plugin_version: '1.0.0',
      outcome: 'succeeded',
      execution_provider: 'cpu',
    });
    expect(run.model_sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(run.inputs.totalCholesterol).toMatchObject({
      value: 213,
      unit: 'mg/dL',
      source: { reference: `Observation/tc-1/_history/${cholesterol.meta!.versionId}` },
    });
    expect(run.outputs.findings[0].value).toBe(risk.valueQuantity!.value);
    expect(run.latency_ms).toBeGreaterThan(0);
    const [event] = await db.query(`SELECT * FROM event WHERE id = $1`, [run.event_id]);
    expect(event).toMatchObject({
      source_id: 'test-ehr',
      focus_type: 'Observation',
      focus_id: 'tc-1',
      status: 'routed',
    });
    const [notification] = await db.query(`SELECT * FROM notification WHERE id = $1`, [
      event.notification_id,
    ]);
    expect(notification).toMatchObject({ http_status: 200, event_count: 1, shape: 'rest-hook-resource' });
    const writes = await db.query(`SELECT * FROM write_back WHERE run_id = $1`, [run.id]);
    expect(writes).toEqual([
      expect.objectContaining({ outcome: 'created', resource_id: risk.id, http_status: 201 }),
    ]);
  });

  it('converts mmol/L with UCUM and treats a notification sent twice as one', async () => {
    const [, cholesterol] = await ehr.seed([
      patient('pce-2', { gender: 'male', age: 62, black: true }),
      lab('tc-2', 'pce-2', '2093-3', 'Cholesterol', 5.5, 'mmol/L'),
      lab('hdl-2', 'pce-2', '2085-9', 'HDL Cholesterol', 1.2, 'mmol/L'),
      bloodPressurePanel('bp-2', 'pce-2', 142, 88),
      smokingStatus('smk-2', 'pce-2', ...NEVER_SMOKER),
    ]);

    expect((await notify(cholesterol)).status).toBe(200);
    const again = await notify(cholesterol);
    expect(again.status).toBe(200);
    expect((await json<fhir4.OperationOutcome>(again)).issue[0].diagnostics).toMatch(/already received/);
    await aegle.waitForIdle();

    const observations = await riskObservations('pce-2');
    expect(observations).toHaveLength(1);
    const expected =
      100 *
      pooledCohortRisk({
        age: 62,
        totalCholesterol: 5.5 * 38.665,
        hdlCholesterol: 1.2 * 38.665,
        systolicBp: 142,
        bpTreated: false,
        currentSmoker: false,
        diabetes: false,
        female: false,
        africanAmerican: true,
      });
    expect(observations[0].valueQuantity!.value).toBeCloseTo(expected, 1);
  });

  it('records a skip with the missing input named, and writes nothing, when data is insufficient', async () => {
    const [, cholesterol] = await ehr.seed([
      patient('pce-3', { gender: 'female', age: 60 }),
      lab('tc-3', 'pce-3', '2093-3', 'Cholesterol', 190, 'mg/dL'),
      bloodPressurePanel('bp-3', 'pce-3', 130, 80),
      smokingStatus('smk-3', 'pce-3', ...NEVER_SMOKER),
    ]);

    expect((await notify(cholesterol)).status).toBe(200);
    await aegle.waitForIdle();

    expect(await riskObservations('pce-3')).toHaveLength(0);
    const [run] = await db.query(
      `SELECT outcome, reason FROM plugin_run WHERE patient_ref = 'Patient/pce-3'`,
    );
    expect(run.outcome).toBe('skipped');
    expect(run.reason).toMatch(
      /insufficient data: hdlCholesterol: no Observation with code http:\/\/loinc.org\|2085-9/,
    );
  });

  it('gives no risk outside the validated age range, and says why', async () => {
    const [, cholesterol] = await ehr.seed([
      patient('pce-4', { gender: 'male', age: 83 }),
      lab('tc-4', 'pce-4', '2093-3', 'Cholesterol', 200, 'mg/dL'),
      lab('hdl-4', 'pce-4', '2085-9', 'HDL Cholesterol', 45, 'mg/dL'),
      bloodPressurePanel('bp-4', 'pce-4', 130, 80),
      smokingStatus('smk-4', 'pce-4', ...NEVER_SMOKER),
    ]);
    expect((await notify(cholesterol)).status).toBe(200);
    await aegle.waitForIdle();
    expect(await riskObservations('pce-4')).toHaveLength(0);
    const [run] = await db.query(
      `SELECT outcome, reason FROM plugin_run WHERE patient_ref = 'Patient/pce-4'`,
    );
    expect(run).toEqual({
      outcome: 'skipped',
      reason: expect.stringMatching(/age: 83 is outside the validated range 40–79/),
    });
  });

  describe('refuses bad requests with an OperationOutcome, and records them', () => {
    const cases: Array<[string, () => Promise<Response>, number]> = [
      [
        'a wrong bearer token',
        () => notify({ resourceType: 'Patient', id: 'x' }, { token: 'wrong-token-123' }),
        401,
      ],
      ['an unknown source', () => notify({ resourceType: 'Patient', id: 'x' }, { source: 'nope' }), 404],
      ['malformed JSON', () => notify('{"resourceType": "Observation", ', {}), 400],
      ['a body that is no resource', () => notify({ hello: 'world' }), 400],
      ['a resource without an id', () => notify({ resourceType: 'Observation', status: 'final' }), 400],
      ['a media type that is not JSON', () => notify('<Patient/>', { contentType: 'application/xml' }), 415],
    ];
    it.each(cases)('%s', async (_name, send, status) => {
      const response = await send();
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/application\/fhir\+json/);
      const body = await json<fhir4.OperationOutcome>(response);
      expect(body.resourceType).toBe('OperationOutcome');
      expect(body.issue[0].severity).toBe('error');
    });

    it('keeps a record of refused notifications that reached a source', async () => {
      const rows = await db.query(
        `SELECT http_status FROM notification WHERE http_status >= 400 ORDER BY received_at`,
      );
      expect(rows.map((r: { http_status: number }) => r.http_status)).toEqual(expect.arrayContaining([400]));
    });
  });

  it('reports database, Redis, the EHR and the loaded plugins on /health/ready', async () => {
    const health = await json<{
      status: string;
      info: Record<string, { status: string; loaded?: unknown[] }>;
    }>(fetch(`${aegle.url}/health/ready`));
    expect(health.info['ehr:test-ehr'].status).toBe('up');
    expect(health.status).toBe('ok');
    expect(health.info.database.status).toBe('up');
    expect(health.info.redis.status).toBe('up');
    expect(health.info.plugins.loaded).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'prognosis-ascvd-pce', provider: 'cpu' })]),
    );
  });
});

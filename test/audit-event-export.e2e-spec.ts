import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { validateR4 } from './support/fhir-validation';
import { json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const TOKEN = 'e2e-inbound-token';

describe('FHIR AuditEvent export, per source', () => {
  let exporting: TestFhirServer;
  let quiet: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    exporting = await startFhirServer();
    quiet = await startFhirServer();
    aegle = await startAegle({
      sources: [
        { id: 'exporting-ehr', fhirBaseUrl: exporting.baseUrl, bearerToken: TOKEN, auditEvents: true },
        { id: 'quiet-ehr', fhirBaseUrl: quiet.baseUrl, bearerToken: TOKEN },
      ],
    });
  }, 30_000);

  afterAll(async () => {
    await aegle?.close();
    await exporting?.close();
    await quiet?.close();
  });

  async function runFor(ehr: TestFhirServer, source: string, id: string): Promise<fhir4.Observation> {
    const [, cholesterol] = await ehr.seed([
      patient(id, { gender: 'male', age: 60 }),
      lab(`tc-${id}`, id, '2093-3', 'Cholesterol', 200, 'mg/dL'),
      lab(`hdl-${id}`, id, '2085-9', 'HDL Cholesterol', 45, 'mg/dL'),
      bloodPressurePanel(`bp-${id}`, id, 130, 80),
      smokingStatus(`smk-${id}`, id, ...NEVER_SMOKER),
    ]);
    const response = await fetch(`${aegle.url}/fhir/notify/${source}`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(cholesterol),
    });
    expect(response.status).toBe(200);
    await aegle.waitForIdle();
    const bundle = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Observation?subject=Patient/${id}&code=79423-0`),
    );
    expect(bundle.entry).toHaveLength(1);
    return bundle.entry![0].resource as fhir4.Observation;
  }

  it('records each write-back as a valid AuditEvent on an EHR that asked for them', async () => {
    const risk = await runFor(exporting, 'exporting-ehr', 'ae-1');
    const events = await json<fhir4.Bundle>(
      fetch(`${exporting.baseUrl}/AuditEvent?entity=Observation/${risk.id}`),
    );
    expect(events.entry).toHaveLength(1);
    const event = events.entry![0].resource as fhir4.AuditEvent;
    expect(() => validateR4(event as never)).not.toThrow();
    expect(event).toMatchObject({ action: 'C', outcome: '0' });
    expect(event.agent[0].who?.reference).toBe(risk.device?.reference);
    expect(event.entity?.map((e) => e.what?.reference)).toEqual([`Observation/${risk.id}`, 'Patient/ae-1']);
    const [run] = await aegle.db.query(
      `SELECT id::text AS id FROM plugin_run WHERE patient_ref = 'Patient/ae-1'`,
    );
    expect(event.entity?.[0].detail).toEqual([{ type: 'aegle-run-id', valueString: run.id }]);
  });

  it('writes no AuditEvent to an EHR that did not ask', async () => {
    await runFor(quiet, 'quiet-ehr', 'ae-2');
    const events = await json<fhir4.Bundle>(fetch(`${quiet.baseUrl}/AuditEvent`));
    expect(events.entry ?? []).toHaveLength(0);
  });
});

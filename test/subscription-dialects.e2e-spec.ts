import { RunningAegle, startAegle } from './support/aegle-app';
import { MEDPLUM_SUBSCRIPTION_SECRET, startFhirServer, TestFhirServer } from './support/fhir-server';
import { adminApi, eventually, json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

jest.setTimeout(120_000);

const TOKEN = 'dialects-token';
const SECRET = 'dialects-hmac-secret';
const ADMIN = 'dialects-admin';
const PCE = 'http://loinc.org|79423-0';

/**
 * The Subscriptions Aegle creates must fire on the server they are created on. The test EHR here
 * delivers rest-hooks as Medplum 5 does: only for `active` Subscriptions (Medplum has no rest-hook
 * handshake, so `requested` never fires), signed only when the Subscription carries Medplum's
 * secret extension (Aegle refuses unsigned deliveries for a source with an hmacSecret).
 */
describe('subscriptions that fire: per-source server dialect', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    ehr = await startFhirServer({ restHooks: 'medplum' });
    aegle = await startAegle({
      adminToken: ADMIN,
      sources: [
        {
          id: 'medplum',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          hmacSecret: SECRET,
          subscription: { criteria: ['Observation?code=http://loinc.org|2093-3'], dialect: 'medplum' },
        },
      ],
    });
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  const admin = adminApi(() => aegle.url, ADMIN);

  it('creates an active, signed rest-hook on Medplum, reports what the EHR holds, and it fires', async () => {
    const created = await json<Array<{ id: string; status: string; kind: string }>>(
      admin('POST', '/sources/medplum/subscriptions', { endpoint: `${aegle.url}/fhir/notify/medplum` }),
    );
    expect(created).toEqual([expect.objectContaining({ status: 'active', kind: 'classic' })]);
    const stored = await json<fhir4.Subscription>(fetch(`${ehr.baseUrl}/Subscription/${created[0].id}`));
    expect(stored.status).toBe('active');
    expect(stored.extension).toEqual([{ url: MEDPLUM_SUBSCRIPTION_SECRET, valueString: SECRET }]);
    // Read back: the EHR's answer, not what Aegle asked for.
    expect(ehr.requests).toEqual(
      expect.arrayContaining([
        {
          method: 'GET',
          path: `/fhir/Subscription/${created[0].id}`,
          headers: expect.anything(),
          status: 200,
        },
      ]),
    );

    // A clinician records a cholesterol result: Medplum notifies, Aegle verifies the signature, the risk lands.
    await ehr.seed([
      patient('dia-1', { gender: 'female', age: 62 }),
      lab('dia-1-hdl', 'dia-1', '2085-9', 'HDL Cholesterol', 48, 'mg/dL'),
      bloodPressurePanel('dia-1-bp', 'dia-1', 128, 82),
      smokingStatus('dia-1-smk', 'dia-1', ...NEVER_SMOKER),
    ]);
    const written = await fetch(`${ehr.baseUrl}/Observation`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(
        lab('ignored', 'dia-1', '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 236, 'mg/dL'),
      ),
    });
    expect(written.status).toBe(201);
    await eventually(async () => (ehr.deliveries.length > 0 ? true : undefined), 'a delivery');
    expect(ehr.deliveries).toEqual([{ subscription: created[0].id, status: 200 }]);
    await aegle.waitForIdle();
    const risks = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Observation?subject=Patient/dia-1&code=${PCE}`),
    );
    expect(risks.entry).toHaveLength(1);
  });

  it('shows the real state in the admin API and /health/ready, errors included', async () => {
    const [mine] = await json<Array<{ id: string }>>(admin('GET', '/sources/medplum/subscriptions'));
    const current = await json<fhir4.Subscription>(fetch(`${ehr.baseUrl}/Subscription/${mine.id}`));
    await fetch(`${ehr.baseUrl}/Subscription/${mine.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ ...current, status: 'error', error: 'endpoint answered 401' }),
    });
    expect(await json(admin('GET', '/sources/medplum/subscriptions'))).toEqual([
      expect.objectContaining({ id: mine.id, status: 'error', error: 'endpoint answered 401' }),
    ]);
    const ready = await json<{ details: Record<string, { subscriptions?: unknown[] }> }>(
      fetch(`${aegle.url}/health/ready`),
    );
    expect(ready.details['ehr:medplum'].subscriptions).toEqual([
      { id: mine.id, status: 'error', kind: 'classic', error: 'endpoint answered 401' },
    ]);
    // Re-activated the Medplum way: straight to active (no handshake to wait for).
    expect(await json(admin('POST', '/sources/medplum/subscriptions/reactivate'))).toEqual([
      expect.objectContaining({ id: mine.id, status: 'active' }),
    ]);
  });
});

import { loadConfig } from '@aegle/config';
import { EhrRequestError, FhirKitEhrClient } from '@aegle/fhir';
import { startFhirServer, TestFhirServer } from './support/fhir-server';

describe('FhirKitEhrClient: EHR faults in the terms a retry policy needs', () => {
  let ehr: TestFhirServer;
  let client: FhirKitEhrClient;

  const clientFor = (fhirBaseUrl: string) =>
    new FhirKitEhrClient(
      loadConfig(
        {},
        { sources: [{ id: 'unit-ehr', fhirBaseUrl, inbound: { bearerToken: 'inbound-token' } }] },
      ).sources[0],
    );

  beforeAll(async () => {
    ehr = await startFhirServer();
    client = clientFor(ehr.baseUrl);
  });
  afterEach(() => ehr.onRequest(undefined));
  afterAll(() => ehr?.close());

  async function failure(promise: Promise<unknown>): Promise<EhrRequestError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EhrRequestError);
    return error as EhrRequestError;
  }

  it("reads Retry-After (seconds) from the EHR's response headers", async () => {
    ehr.failNext(1, 429, { 'Retry-After': '7' });
    const error = await failure(client.search('Patient', {}));
    expect(error).toMatchObject({ status: 429, retryable: true, retryAfterMs: 7000 });
  });

  it('reads Retry-After as an HTTP date', async () => {
    ehr.failNext(1, 503, { 'Retry-After': new Date(Date.now() + 60_000).toUTCString() });
    const error = await failure(client.search('Patient', {}));
    expect(error.status).toBe(503);
    expect(error.retryAfterMs).toBeGreaterThan(55_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('keeps the OperationOutcome of a refusal and does not retry it', async () => {
    const error = await failure(
      client.createIfNoneExist({ resourceType: 'Observation' } as fhir4.Observation, 'identifier=x|y'),
    );
    expect(error).toMatchObject({ status: 400, retryable: false });
    expect(error.outcome?.resourceType).toBe('OperationOutcome');
  });

  it('retries a 5xx whose body is not FHIR (a proxy error page)', async () => {
    ehr.onRequest(() => ({ status: 502, body: '<html>Bad gateway</html>' }));
    const error = await failure(client.search('Patient', {}));
    expect(error).toMatchObject({ status: 502, retryable: true, outcome: undefined });
  });

  it('retries a network error', async () => {
    const down = await startFhirServer();
    const url = down.baseUrl;
    await down.close();
    const error = await failure(clientFor(url).search('Patient', {}));
    expect(error).toMatchObject({ status: undefined, retryable: true });
  });

  it('names the EHR (source and base URL) and the network cause in every error, never the patient', async () => {
    const down = await startFhirServer();
    const url = down.baseUrl;
    await down.close();
    const unreachable = await failure(clientFor(url).read('Patient', 'patient-4711'));
    expect(unreachable.message).toBe(
      `EHR 'unit-ehr' at ${url} unreachable (read Patient): fetch failed (connect ECONNREFUSED ${new URL(url).host})`,
    );
    ehr.failNext(1, 500);
    const refused = await failure(client.read('Patient', 'patient-4711'));
    expect(refused.message).toBe(`EHR 'unit-ehr' at ${ehr.baseUrl}: read Patient failed with HTTP 500`);
    for (const error of [unreachable, refused]) expect(error.message).not.toContain('patient-4711');
  });

  it('reads a missing resource as undefined', async () => {
    expect(await client.read('Patient', 'nobody-here')).toBeUndefined();
  });

  it('runs a transaction', async () => {
    const response = await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:6f1d1c8e-3a53-4a4e-9a0a-000000000001',
          resource: { resourceType: 'Patient', gender: 'other' },
          request: { method: 'POST', url: 'Patient' },
        },
      ],
    });
    expect(response.type).toBe('transaction-response');
    expect(response.entry?.[0].response?.status).toMatch(/^201/);
  });

  describe('batch searches', () => {
    it("reads batch support from the EHR's CapabilityStatement, once", async () => {
      const fresh = clientFor(ehr.baseUrl);
      const before = ehr.requests.length;
      expect(await fresh.supportsBatch()).toBe(true);
      expect(await fresh.supportsBatch()).toBe(true);
      expect(ehr.requests.slice(before).map((r) => r.path)).toEqual(['/fhir/metadata']);

      const noBatch = clientFor(ehr.baseUrl);
      ehr.onRequest((req) =>
        req.path.endsWith('/metadata')
          ? {
              status: 200,
              body: {
                resourceType: 'CapabilityStatement',
                status: 'active',
                date: '2024-01-01',
                kind: 'instance',
                fhirVersion: '4.0.1',
                format: ['json'],
                rest: [{ mode: 'server', interaction: [{ code: 'transaction' }] }],
              },
            }
          : undefined,
      );
      expect(await noBatch.supportsBatch()).toBe(false);
    });

    it('answers "no batch" when the CapabilityStatement cannot be read, and asks again later', async () => {
      const fresh = clientFor(ehr.baseUrl);
      ehr.failNext(1, 503);
      expect(await fresh.supportsBatch()).toBe(false);
      expect(await fresh.supportsBatch()).toBe(true);
    });

    it('runs several searches in one request, each answered in order', async () => {
      const [alice, bob] = await ehr.seed<fhir4.Patient>([
        { resourceType: 'Patient', gender: 'female' },
        { resourceType: 'Patient', gender: 'male' },
      ]);
      await ehr.seed<fhir4.Resource>([
        {
          resourceType: 'Condition',
          subject: { reference: `Patient/${alice.id}` },
          code: { text: 'asthma' },
        } as fhir4.Condition,
      ]);
      const before = ehr.requests.length;
      const answers = await client.searchBatch([
        { resourceType: 'Patient', params: { _id: bob.id! } },
        { resourceType: 'Condition', params: { patient: alice.id! } },
        { resourceType: 'Condition', params: { patient: bob.id! } },
      ]);
      expect(ehr.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
        expect.stringMatching(/^POST \/fhir\/?$/),
      ]);
      expect(answers.map((a) => (Array.isArray(a) ? a.map((r) => r.id) : a))).toEqual([
        [bob.id],
        [expect.any(String)],
        [],
      ]);
    });

    it('fails as a whole with a retryable error when the EHR is unwell', async () => {
      ehr.failNext(1, 503);
      const error = await failure(client.searchBatch([{ resourceType: 'Patient', params: {} }]));
      expect(error).toMatchObject({ status: 503, retryable: true });
    });

    it('hands back the error of an entry the EHR refused, and the others', async () => {
      ehr.onRequest((req) =>
        req.method === 'POST' && /^\/fhir\/?$/.test(req.path)
          ? {
              status: 200,
              body: {
                resourceType: 'Bundle',
                type: 'batch-response',
                entry: [
                  {
                    resource: { resourceType: 'Bundle', type: 'searchset', entry: [] },
                    response: { status: '200 OK' },
                  },
                  {
                    resource: {
                      resourceType: 'OperationOutcome',
                      issue: [{ severity: 'error', code: 'forbidden' }],
                    },
                    response: { status: '403 Forbidden' },
                  },
                ],
              },
            }
          : undefined,
      );
      const [ok, refused] = await client.searchBatch([
        { resourceType: 'Patient', params: {} },
        { resourceType: 'Condition', params: {} },
      ]);
      expect(ok).toEqual([]);
      expect(refused).toBeInstanceOf(EhrRequestError);
      expect(refused).toMatchObject({ status: 403, retryable: false });
    });
  });
});

// The stand-in EHR must behave like a real FHIR R4 server, or e2e tests prove nothing; check it over HTTP.
import type { Bundle, Condition, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { startFhirServer, type TestFhirServer } from './support/fhir-server';
import { FhirValidationError, loadR4Definitions, validateR4 } from './support/fhir-validation';
import { MemoryRepository } from '@medplum/fhir-router';
import { parseSearchRequest } from '@medplum/core';
import { TransactionalMemoryRepository } from './support/memory-fhir-repository';

const LOINC = 'http://loinc.org';

interface Exchange<T> {
  status: number;
  headers: Headers;
  body: T;
}

describe('test FHIR server', () => {
  let server: TestFhirServer;

  async function fhir<T = Resource>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Exchange<T>> {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: { accept: 'application/fhir+json', 'content-type': 'application/fhir+json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
  }

  const observation = (patientId: string, overrides: Partial<Observation> = {}): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: '2024-01-01T00:00:00Z',
    ...overrides,
  });

  const ids = (bundle: Bundle): (string | undefined)[] => (bundle.entry ?? []).map((e) => e.resource?.id);

  beforeAll(async () => {
    server = await startFhirServer();
  });

  afterAll(() => server.close());

  beforeEach(() => {
    server.repo.clear();
    server.requests.length = 0;
    server.onRequest(undefined);
  });

  it('listens on 127.0.0.1 with a /fhir base and serves a CapabilityStatement', async () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir$/);
    const res = await fhir('GET', '/metadata');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/fhir+json');
    expect(res.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
  });

  it('runs several servers side by side, each with its own data', async () => {
    const other = await startFhirServer();
    try {
      expect(other.baseUrl).not.toBe(server.baseUrl);
      await other.seed({ resourceType: 'Patient' });
      expect(await server.repo.searchResources({ resourceType: 'Patient' })).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  describe('create, read, vread, update, delete, history', () => {
    it('creates with a server-assigned id and meta, answering 201 with Location and ETag', async () => {
      const res = await fhir<Patient>('POST', '/Patient', {
        resourceType: 'Patient',
        id: 'client-chosen',
        meta: { versionId: 'x', lastUpdated: '2000-01-01T00:00:00Z' },
        name: [{ family: 'Doe' }],
      });
      expect(res.status).toBe(201);
      const { id, meta } = res.body;
      expect(id).toBeDefined();
      expect(id).not.toBe('client-chosen');
      expect(meta?.versionId).not.toBe('x');
      expect(meta?.lastUpdated).not.toBe('2000-01-01T00:00:00Z');
      expect(res.headers.get('location')).toBe(`${server.baseUrl}/Patient/${id}/_history/${meta?.versionId}`);
      expect(res.headers.get('etag')).toBe(`W/"${meta?.versionId}"`);

      const read = await fhir<Patient>('GET', `/Patient/${id}`);
      expect(read.status).toBe(200);
      expect(read.body.name).toEqual([{ family: 'Doe' }]);
      expect(read.headers.get('last-modified')).toBe(new Date(meta?.lastUpdated ?? '').toUTCString());
    });

    it('updates with If-Match, rejects a stale version with 412, and keeps every version', async () => {
      const [patient] = await server.seed<Patient>({ resourceType: 'Patient', gender: 'female' });
      const v1 = patient.meta?.versionId;

      const updated = await fhir<Patient>(
        'PUT',
        `/Patient/${patient.id}`,
        { ...patient, gender: 'other' },
        { 'If-Match': `W/"${v1}"` },
      );
      expect(updated.status).toBe(200);
      const v2 = updated.body.meta?.versionId;
      expect(v2).not.toBe(v1);

      const stale = await fhir<OperationOutcome>('PUT', `/Patient/${patient.id}`, patient, {
        'If-Match': `W/"${v1}"`,
      });
      expect(stale.status).toBe(412);
      expect(stale.body.resourceType).toBe('OperationOutcome');

      expect((await fhir<Patient>('GET', `/Patient/${patient.id}/_history/${v1}`)).body.gender).toBe(
        'female',
      );
      expect((await fhir<Patient>('GET', `/Patient/${patient.id}/_history/${v2}`)).body.gender).toBe('other');
      expect((await fhir('GET', `/Patient/${patient.id}/_history/nope`)).status).toBe(404);

      // Newest first, and the same order every time (Medplum's store flips it on each read).
      for (let i = 0; i < 2; i++) {
        const history = await fhir<Bundle<Patient>>('GET', `/Patient/${patient.id}/_history`);
        expect(history.status).toBe(200);
        expect(history.body.type).toBe('history');
        expect(history.body.entry?.map((e) => e.resource?.meta?.versionId)).toEqual([v2, v1]);
        expect(history.body.entry?.map((e) => e.request?.method)).toEqual(['PUT', 'POST']);
        validateR4(history.body);
      }
    });

    it('creates by update with 201 and rejects a body whose id does not match the URL', async () => {
      const created = await fhir<Patient>('PUT', '/Patient/chosen-id', {
        resourceType: 'Patient',
        id: 'chosen-id',
      });
      expect(created.status).toBe(201);
      expect(created.body.id).toBe('chosen-id');
      const mismatch = await fhir('PUT', '/Patient/chosen-id', { resourceType: 'Patient', id: 'other' });
      expect(mismatch.status).toBe(400);
    });

    it('deletes, after which the resource is not found', async () => {
      const [patient] = await server.seed<Patient>({ resourceType: 'Patient' });
      expect((await fhir('DELETE', `/Patient/${patient.id}`)).status).toBe(200);
      expect((await fhir('GET', `/Patient/${patient.id}`)).status).toBe(404);
      expect((await fhir('DELETE', `/Patient/${patient.id}`)).status).toBe(404);
    });

    it('applies a JSON Patch', async () => {
      const [patient] = await server.seed<Patient>({ resourceType: 'Patient', active: true });
      const res = await fhir<Patient>(
        'PATCH',
        `/Patient/${patient.id}`,
        [{ op: 'replace', path: '/active', value: false }],
        {
          'content-type': 'application/json-patch+json',
        },
      );
      expect(res.status).toBe(200);
      expect(res.body.active).toBe(false);
    });

    it('honours Prefer: return=minimal and return=OperationOutcome', async () => {
      const minimal = await fhir(
        'POST',
        '/Patient',
        { resourceType: 'Patient' },
        { Prefer: 'return=minimal' },
      );
      expect(minimal.status).toBe(201);
      expect(minimal.body).toBeUndefined();
      expect(minimal.headers.get('location')).toMatch(/\/Patient\/[^/]+\/_history\/[^/]+$/);

      const outcome = await fhir(
        'POST',
        '/Patient',
        { resourceType: 'Patient' },
        { Prefer: 'return=OperationOutcome' },
      );
      expect(outcome.status).toBe(201);
      expect(outcome.body.resourceType).toBe('OperationOutcome');
    });
  });

  it("applies a transaction's Prefer: return=minimal to its entries: their responses stay, their resources go", async () => {
    const res = await fhir<Bundle>(
      'POST',
      '',
      {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }],
      },
      { Prefer: 'return=minimal' },
    );
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    const [entry] = res.body.entry!;
    expect(entry.response).toMatchObject({ status: '201', location: expect.stringMatching(/^Patient\//) });
    expect(entry).not.toHaveProperty('resource');
  });

  describe('conditional create (If-None-Exist)', () => {
    const lab = (value: string): Observation => ({
      ...observation('p1'),
      identifier: [{ system: 'urn:aegle:run', value }],
    });

    it('creates once, then returns the existing resource with 200', async () => {
      const first = await fhir<Observation>('POST', '/Observation', lab('run-1'), {
        'If-None-Exist': 'identifier=urn:aegle:run|run-1',
      });
      const second = await fhir<Observation>('POST', '/Observation', lab('run-1'), {
        'If-None-Exist': 'identifier=urn:aegle:run|run-1',
      });
      expect(first.status).toBe(201);
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(first.body.id);
      expect(await server.repo.searchResources({ resourceType: 'Observation' })).toHaveLength(1);
    });

    it('understands bare-id reference criteria', async () => {
      await server.seed(observation('p1'));
      const res = await fhir('POST', '/Observation', observation('p1'), {
        'If-None-Exist': 'patient=p1&code=http://loinc.org|8867-4',
      });
      expect(res.status).toBe(200);
      expect(await server.repo.searchResources({ resourceType: 'Observation' })).toHaveLength(1);
    });

    it('answers 412 when the criteria match more than one resource', async () => {
      await server.seed([lab('dup'), lab('dup')]);
      const res = await fhir<OperationOutcome>('POST', '/Observation', lab('dup'), {
        'If-None-Exist': 'identifier=urn:aegle:run|dup',
      });
      expect(res.status).toBe(412);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(await server.repo.searchResources({ resourceType: 'Observation' })).toHaveLength(2);
    });

    it('rejects criteria with unknown parameters instead of creating a duplicate', async () => {
      const res = await fhir('POST', '/Observation', lab('x'), { 'If-None-Exist': 'no-such-param=1' });
      expect(res.status).toBe(400);
    });
  });

  describe('search', () => {
    beforeEach(async () => {
      await server.seed<Resource>([
        { resourceType: 'Patient', id: 'p1', identifier: [{ system: 'urn:mrn', value: '123' }] },
        { resourceType: 'Patient', id: 'p2' },
        observation('p1', {
          id: 'jan',
          effectiveDateTime: '2024-01-15T00:00:00Z',
          meta: { lastUpdated: '2020-01-01T00:00:00Z' },
        }),
        observation('p1', { id: 'mar', effectiveDateTime: '2024-03-15T00:00:00Z', status: 'preliminary' }),
        observation('p1', {
          id: 'feb',
          effectiveDateTime: '2024-02-15T00:00:00Z',
          code: { coding: [{ system: LOINC, code: '2708-6' }] },
        }),
        observation('p2', { id: 'other' }),
        {
          resourceType: 'Condition',
          id: 'c1',
          subject: { reference: 'Patient/p1' },
          clinicalStatus: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
          },
        } satisfies Condition,
      ]);
    });

    async function search(query: string): Promise<Bundle> {
      const res = await fhir<Bundle>('GET', query);
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('searchset');
      return res.body;
    }

    it('sorts by -date', async () => {
      expect(ids(await search('/Observation?patient=p1&_sort=-date'))).toEqual(['mar', 'feb', 'jan']);
    });

    it('pages with _count, total and a next link', async () => {
      const page = await search('/Observation?patient=p1&_sort=date&_count=2');
      expect(ids(page)).toEqual(['jan', 'feb']);
      expect(page.total).toBe(3);
      const next = page.link?.find((l) => l.relation === 'next')?.url ?? '';
      expect(next.startsWith(server.baseUrl)).toBe(true);
      expect(ids(await search(next.slice(server.baseUrl.length)))).toEqual(['mar']);
    });

    it('matches patient= and subject= by bare id, Type/id, :Type modifier or absolute URL', async () => {
      for (const query of [
        'patient=p1',
        'patient=Patient/p1',
        'subject=Patient/p1',
        'subject=p1',
        'subject:Patient=p1',
        `subject=${server.baseUrl}/Patient/p1`,
      ]) {
        expect(ids(await search(`/Observation?${query}&_sort=date`))).toEqual(['jan', 'feb', 'mar']);
      }
      expect(ids(await search('/Observation?patient=p1,p2&_sort=date'))).toHaveLength(4);
      expect(ids(await search('/Observation?subject=Patient/nobody'))).toEqual([]);
    });

    it('matches code=system|code, status=, clinical-status= and identifier=system|value', async () => {
      expect(ids(await search(`/Observation?patient=p1&code=${LOINC}|2708-6`))).toEqual(['feb']);
      expect(ids(await search('/Observation?status=preliminary'))).toEqual(['mar']);
      expect(ids(await search('/Condition?patient=p1&clinical-status=active'))).toEqual(['c1']);
      expect(ids(await search('/Condition?clinical-status=resolved'))).toEqual([]);
      expect(ids(await search('/Patient?identifier=urn:mrn|123'))).toEqual(['p1']);
      expect(ids(await search('/Patient?identifier=urn:mrn|999'))).toEqual([]);
    });

    it('filters on _lastUpdated', async () => {
      const recent = ids(await search('/Observation?patient=p1&_lastUpdated=gt2021-01-01'));
      expect(recent.sort()).toEqual(['feb', 'mar']);
      expect(ids(await search('/Observation?_lastUpdated=lt2021-01-01'))).toEqual(['jan']);
    });

    it('returns a valid searchset Bundle with fullUrl on every entry', async () => {
      const bundle = await search('/Observation?patient=p1');
      expect(bundle.entry?.map((e) => e.fullUrl)).toContain(`${server.baseUrl}/Observation/jan`);
      expect(bundle.link?.[0]).toEqual({ relation: 'self', url: `${server.baseUrl}/Observation?patient=p1` });
      validateR4(bundle);
    });

    it('rejects unknown parameters with 400 unless Prefer: handling=lenient', async () => {
      const strict = await fhir<OperationOutcome>('GET', '/Observation?patient=p1&colour=red');
      expect(strict.status).toBe(400);
      expect(strict.body.issue?.[0].details?.text).toContain('colour');
      const lenient = await fhir<Bundle>('GET', '/Observation?patient=p1&colour=red', undefined, {
        Prefer: 'handling=lenient',
      });
      expect(lenient.status).toBe(200);
      expect(lenient.body.total).toBe(3);
    });
  });

  describe('errors', () => {
    it('answers 404 with an OperationOutcome for unknown resources, types and paths', async () => {
      for (const path of ['/Patient/missing', '/NotAType/1', '/NotAType']) {
        const res = await fhir<OperationOutcome>('GET', path);
        expect(res.status).toBe(404);
        expect(res.body.resourceType).toBe('OperationOutcome');
      }
      const outside = await fetch(server.baseUrl.replace('/fhir', '/other'));
      expect(outside.status).toBe(404);
    });

    it('answers 400 for bad JSON and for bodies that are not resources', async () => {
      const bad = await fhir<OperationOutcome>('POST', '/Patient', '{"resourceType": "Patient",');
      expect(bad.status).toBe(400);
      expect(bad.body.issue?.[0].details?.text).toMatch(/JSON/);
      expect((await fhir('POST', '/Patient', [1, 2])).status).toBe(400);
      expect((await fhir('POST', '/Patient', observation('p1'))).status).toBe(400);
    });

    it('rejects invalid resources with 400 listing the issues, unless validation is off', async () => {
      const invalid = { ...observation('p1'), status: 'done' };
      const res = await fhir<OperationOutcome>('POST', '/Observation', invalid);
      expect(res.status).toBe(400);
      expect(res.body.issue).toEqual([
        expect.objectContaining({ severity: 'error', expression: ['Observation.status'] }),
      ]);
      expect(await server.repo.searchResources({ resourceType: 'Observation' })).toHaveLength(0);

      const lax = await startFhirServer({ validate: false });
      try {
        const created = await fetch(`${lax.baseUrl}/Observation`, {
          method: 'POST',
          body: JSON.stringify(invalid),
        });
        expect(created.status).toBe(201);
      } finally {
        await lax.close();
      }
    });
  });

  describe('transaction and batch', () => {
    const patientUrn = 'urn:uuid:6c9a1e0e-7a43-4c6e-9a55-2f1d6d1c0a01';

    it('runs a transaction, resolving urn:uuid references', async () => {
      const res = await fhir<Bundle>('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: patientUrn,
            resource: { resourceType: 'Patient' },
            request: { method: 'POST', url: 'Patient' },
          },
          {
            resource: { ...observation('x'), subject: { reference: patientUrn } },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      });
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('transaction-response');
      expect(res.body.entry?.map((e) => e.response?.status)).toEqual(['201', '201']);
      validateR4(res.body);

      const [patient] = await server.repo.searchResources({ resourceType: 'Patient' });
      const [obs] = await server.repo.searchResources<Observation>({ resourceType: 'Observation' });
      expect(obs.subject?.reference).toBe(`Patient/${patient.id}`);
    });

    it('applies If-None-Exist inside a transaction', async () => {
      const [existing] = await server.seed<Patient>({
        resourceType: 'Patient',
        identifier: [{ system: 'urn:mrn', value: '7' }],
      });
      const res = await fhir<Bundle>('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: patientUrn,
            resource: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: '7' }] },
            request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:mrn|7' },
          },
          {
            resource: { ...observation('x'), subject: { reference: patientUrn } },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      });
      expect(res.status).toBe(200);
      expect(await server.repo.searchResources({ resourceType: 'Patient' })).toHaveLength(1);
      const [obs] = await server.repo.searchResources<Observation>({ resourceType: 'Observation' });
      expect(obs.subject?.reference).toBe(`Patient/${existing.id}`);
    });

    it('rolls back every entry when one fails', async () => {
      const [patient] = await server.seed<Patient>({ resourceType: 'Patient', active: true });
      const res = await fhir<OperationOutcome>('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: observation(patient.id), request: { method: 'POST', url: 'Observation' } },
          {
            resource: { ...patient, active: false },
            request: { method: 'PUT', url: `Patient/${patient.id}`, ifMatch: 'W/"stale"' },
          },
        ],
      });
      expect(res.status).toBe(412);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(await server.repo.searchResources({ resourceType: 'Observation' })).toHaveLength(0);
      expect((await server.repo.readResource<Patient>('Patient', patient.id)).active).toBe(true);
    });

    it('runs a batch whose entries succeed or fail independently', async () => {
      const res = await fhir<Bundle>('POST', '', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
          { request: { method: 'GET', url: 'Patient/missing' } },
        ],
      });
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('batch-response');
      expect(res.body.entry?.map((e) => e.response?.status)).toEqual(['201', '404']);
      expect(await server.repo.searchResources({ resourceType: 'Patient' })).toHaveLength(1);
    });

    it('validates the resources inside the Bundle', async () => {
      const res = await fhir<OperationOutcome>('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: { resourceType: 'Patient', gender: 'robot' },
            request: { method: 'POST', url: 'Patient' },
          },
        ],
      });
      expect(res.status).toBe(400);
      expect(res.body.issue?.[0].expression).toEqual(['Bundle.entry.resource.gender']);
    });
  });

  describe('test controls', () => {
    it('failNext fails the next requests with an OperationOutcome and the given headers', async () => {
      server.failNext(2, 503, { 'Retry-After': '1' });
      for (let i = 0; i < 2; i++) {
        const res = await fhir<OperationOutcome>('GET', '/metadata');
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(res.body.issue?.[0].code).toBe('transient');
      }
      expect((await fhir('GET', '/metadata')).status).toBe(200);

      server.failNext(1);
      server.failNext(1, 429);
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await fhir('POST', '/Patient', { resourceType: 'Patient' })).status);
      expect(statuses).toEqual([503, 429, 201]);
      expect(await server.repo.searchResources({ resourceType: 'Patient' })).toHaveLength(1);
    });

    it('logs method, path, headers and status of every request', async () => {
      server.failNext(1);
      await fhir('POST', '/Observation', observation('p1'), { 'If-None-Exist': 'patient=p1' });
      await fhir('POST', '/Observation', observation('p1'), { 'If-None-Exist': 'patient=p1' });
      await fhir('GET', '/Observation?patient=p1');
      expect(server.requests.map(({ method, path, status }) => ({ method, path, status }))).toEqual([
        { method: 'POST', path: '/fhir/Observation', status: 503 },
        { method: 'POST', path: '/fhir/Observation', status: 201 },
        { method: 'GET', path: '/fhir/Observation?patient=p1', status: 200 },
      ]);
      expect(server.requests[0].headers['if-none-exist']).toBe('patient=p1');
    });

    it('onRequest sees every request and can answer in the server’s place', async () => {
      const seen: unknown[] = [];
      server.onRequest((req) => {
        seen.push(req.body);
        if (req.method === 'DELETE')
          return { status: 405, body: { resourceType: 'OperationOutcome', issue: [] } };
      });
      await fhir('POST', '/Patient', { resourceType: 'Patient', active: true });
      expect((await fhir('DELETE', '/Patient/any')).status).toBe(405);
      expect(seen).toEqual([{ resourceType: 'Patient', active: true }, undefined]);
      server.onRequest(undefined);
      expect((await fhir('DELETE', '/Patient/any')).status).toBe(404);
    });

    it('seed keeps given ids and meta, and runs transaction Bundles through the router', async () => {
      const [patient, obs] = await server.seed<Resource>([
        { resourceType: 'Patient', id: 'seeded' },
        observation('seeded', { meta: { lastUpdated: '2020-05-05T00:00:00.000Z' } }),
      ]);
      expect(patient.id).toBe('seeded');
      expect(obs.id).toBeDefined();
      expect(obs.meta?.lastUpdated).toBe('2020-05-05T00:00:00.000Z');

      const created = await server.seed({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:0b7f4c1e-1111-4d7c-8f00-000000000001',
            resource: { resourceType: 'Patient' },
            request: { method: 'POST', url: 'Patient' },
          },
          {
            resource: observation('x', {
              subject: { reference: 'urn:uuid:0b7f4c1e-1111-4d7c-8f00-000000000001' },
            }),
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      });
      expect((created[1] as Observation).subject?.reference).toBe(`Patient/${created[0].id}`);
      expect(server.requests).toHaveLength(0); // seeding bypasses HTTP
    });
  });
});

describe('the test FHIR server store: indexed searches and transactions', () => {
  const LOINC_CODES = ['2093-3', '2085-9', '8480-6'];

  beforeAll(() => loadR4Definitions());

  /** The same resources in Medplum's plain MemoryRepository (scans everything) and in ours. */
  async function bothStores(): Promise<[MemoryRepository, TransactionalMemoryRepository]> {
    const plain = new MemoryRepository();
    const indexed = new TransactionalMemoryRepository();
    for (const repo of [plain, indexed]) {
      for (let p = 0; p < 30; p++) {
        await repo.createResource<Patient>({
          resourceType: 'Patient',
          id: `p${p}`,
          identifier: [{ system: 'urn:mrn', value: `mrn-${p}` }],
        });
      }
      for (let i = 0; i < 600; i++) {
        await repo.createResource<Observation>({
          resourceType: 'Observation',
          id: `o${i}`,
          status: i % 7 === 0 ? 'preliminary' : 'final',
          code: { coding: [{ system: LOINC, code: LOINC_CODES[i % 3] }] },
          subject: { reference: `Patient/p${(i * 7) % 30}` },
          effectiveDateTime: new Date(Date.UTC(2024, 0, 1) + ((i * 37) % 400) * 86_400_000).toISOString(),
          identifier: [{ system: 'urn:result', value: `r${i}` }],
        });
      }
    }
    return [plain, indexed];
  }

  const idsOf = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource?.id);

  it('answers every search exactly as a full scan does: same matches, order, paging and total', async () => {
    const [plain, indexed] = await bothStores();
    for (const query of [
      'Observation?subject=Patient/p3',
      'Observation?subject=Patient/p3,Patient/p4&_sort=-date',
      `Observation?subject=Patient/p5&code=${LOINC}|2093-3&_sort=-date&_count=2`,
      `Observation?subject=Patient/p5&code=${LOINC}|2085-9&date=ge2024-06-01`,
      'Observation?subject=Patient/p6&status=preliminary&_count=3&_offset=1',
      'Observation?_id=o1,o2,o999',
      'Observation?identifier=urn:result|r42',
      'Observation?identifier=r42',
      'Observation?identifier=urn:other|r42',
      'Patient?identifier=urn:mrn|mrn-7',
      'Observation?subject=Patient/nobody',
      `Observation?code=${LOINC}|8480-6&_sort=date&_count=5`,
      `Observation?code=${LOINC}|8480-6,${LOINC}|2093-3&subject=Patient/p5&status=final`,
      'Observation?code=2093-3&_count=4',
      'Observation?code=urn:other|2093-3',
      'Observation?status=FINAL',
      'Observation?_lastUpdated=gt2000-01-01&subject=Patient/p7',
      'Observation?_lastUpdated=ge2999-01-01',
      'Observation?_lastUpdated=lt2999-01-01&_count=3', // not indexed: the base's scan
      `Observation?code:not=${LOINC}|2093-3&_count=3`, // not indexed: the base's scan
    ]) {
      const request = parseSearchRequest(query);
      const [expected, actual] = [await plain.search(request), await indexed.search(request)];
      expect({ query, ids: idsOf(actual), total: actual.total }).toEqual({
        query,
        ids: idsOf(expected),
        total: expected.total,
      });
    }
  });

  it('keeps its indexes true through updates, deletes and rolled-back transactions', async () => {
    const [, repo] = await bothStores();
    const bySubject = async (patient: string) =>
      idsOf(await repo.search(parseSearchRequest(`Observation?subject=Patient/${patient}`)));
    expect(await bySubject('p0')).toContain('o0');

    const moved = await repo.readResource<Observation>('Observation', 'o0');
    await repo.updateResource({ ...moved, subject: { reference: 'Patient/p1' } });
    expect(await bySubject('p0')).not.toContain('o0');
    expect(await bySubject('p1')).toContain('o0');

    await repo.deleteResource('Observation', 'o0');
    expect(await bySubject('p1')).not.toContain('o0');

    await expect(
      repo.withTransaction(async () => {
        await repo.createResource<Observation>({
          resourceType: 'Observation',
          id: 'ghost',
          status: 'final',
          code: { coding: [{ system: LOINC, code: '2093-3' }] },
          subject: { reference: 'Patient/p2' },
          identifier: [{ system: 'urn:result', value: 'ghost' }],
        });
        await repo.deleteResource('Observation', 'o2');
        throw new Error('the transaction fails');
      }),
    ).rejects.toThrow('the transaction fails');
    expect(await bySubject('p2')).not.toContain('ghost');
    expect(await bySubject('p14')).toContain('o2'); // the delete was undone
    await expect(repo.readResource('Observation', 'ghost')).rejects.toThrow();
    // A conditional create after the rollback creates: nothing of the failed transaction is left.
    const { outcome } = await repo.conditionalCreate<Observation>(
      { resourceType: 'Observation', status: 'final', code: { text: 'again' } },
      parseSearchRequest('Observation?identifier=urn:result|ghost'),
    );
    expect(outcome.id).toBe('created');
  });
});

describe('validateR4', () => {
  const valid: Observation = {
    resourceType: 'Observation',
    meta: {
      security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST' }],
    },
    status: 'final',
    code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2024-01-01T10:00:00Z',
    valueQuantity: { value: 0.82, unit: 'probability', system: 'http://unitsofmeasure.org', code: '1' },
    derivedFrom: [{ reference: 'Observation/input-1' }],
    device: { reference: 'Device/model-1', display: 'Aegle sepsis model v1' },
    note: [{ text: 'Produced by an AI model; review before acting.' }],
  };

  it('accepts a valid Observation with valueQuantity, derivedFrom, device, note and meta.security', () => {
    expect(() => validateR4(valid)).not.toThrow();
  });

  it('rejects an invalid status, naming the element and value', () => {
    const bad = { ...valid, status: 'done' } as unknown as Observation;
    expect(() => validateR4(bad)).toThrow(FhirValidationError);
    expect(() => validateR4(bad)).toThrow(/Observation\.status: Value "done" is not in required value set/);
  });

  it('lists every issue at once', () => {
    const bad = {
      ...valid,
      status: undefined,
      valueString: 'also a value',
      effectiveDateTime: 'yesterday',
      valueQuantity: { value: 'high', comparator: 'about' },
      colour: 'red',
    } as unknown as Observation;
    let error: FhirValidationError | undefined;
    try {
      validateR4(bad);
    } catch (err) {
      error = err as FhirValidationError;
    }
    expect(error?.issues.map((i) => i.expression?.[0])).toEqual(
      expect.arrayContaining([
        'Observation.status',
        'Observation.effective[x]',
        'Observation.value[x].value',
        'Observation.colour',
        'Observation.valueQuantity.comparator',
        'valueString',
      ]),
    );
    expect(error?.message.split('\n').length).toBe((error?.issues.length ?? 0) + 1);
  });

  it('rejects unknown resource types', () => {
    expect(() => validateR4({ resourceType: 'Prediction' } as unknown as Resource)).toThrow(
      /Unknown data type: Prediction/,
    );
  });
});

import { resolve } from 'node:path';
import { loadConfig } from '@aegle/config';
import { FhirKitEhrClient } from '@aegle/fhir';
import {
  excludedBecause,
  gatherInputs,
  PluginManifest,
  readManifest,
  readPluginFolder,
} from '@aegle/plugin-sdk/engine';
import { EhrPatientData } from '@aegle/runs';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { chartTransaction, cholesterolResult, generatePatients } from '../sandbox/synthetic-patients';

/**
 * A plugin's declared inputs read in one `batch` request where the EHR supports it: the same
 * features as one request per input, fewer round trips, and the old way whenever batch is not there.
 */
describe("EhrPatientData: a plugin's inputs in one batch", () => {
  let ehr: TestFhirServer;
  let manifest: PluginManifest;
  let patientId: string;
  const now = new Date();

  const client = () =>
    new FhirKitEhrClient(
      loadConfig(
        {},
        {
          sources: [
            { id: 'batch-ehr', fhirBaseUrl: ehr.baseUrl, inbound: { bearerToken: 'batch-inbound-token' } },
          ],
        },
      ).sources[0],
    );

  /** The features PCE gathers for the patient, and the requests it took (metadata aside). */
  async function gather(prefetch: boolean) {
    const data = new EhrPatientData(client(), patientId);
    const before = ehr.requests.length;
    if (prefetch) await data.prefetch(manifest, now);
    const afterPrefetch = ehr.requests.length;
    const gathered = await gatherInputs(manifest, data, now);
    const requests = (from: number, to?: number) =>
      ehr.requests
        .slice(from, to)
        .filter((r) => !r.path.endsWith('/metadata'))
        .map((r) => `${r.method} ${r.path.split('?')[0]}`);
    return {
      gathered,
      prefetchRequests: requests(before, afterPrefetch),
      gatherRequests: requests(afterPrefetch),
    };
  }

  beforeAll(async () => {
    ehr = await startFhirServer();
    manifest = await readManifest(resolve(__dirname, '../plugins/prognosis-ascvd-pce'));
    // A chart with every PCE input: age, HDL, blood pressure, smoking, medications, and a new cholesterol.
    const [synthetic] = generatePatients(40, 7, now, 'batch').filter(
      ({ profile: p }) =>
        p.age >= 40 &&
        p.age <= 79 &&
        p.totalCholesterol >= 132 &&
        p.totalCholesterol <= 318 &&
        p.hdl !== undefined &&
        p.smoker !== 'unknown' &&
        p.bpTreated,
    );
    await ehr.seed(chartTransaction(synthetic) as never);
    await ehr.seed(cholesterolResult(synthetic.profile, now.toISOString())); // what a notification would bring
    patientId = synthetic.profile.id;
  });
  afterEach(() => ehr.onRequest(undefined));
  afterAll(() => ehr?.close());

  it('reads every declared input in one batch request, then needs no other', async () => {
    const oneByOne = await gather(false);
    const batched = await gather(true);
    expect(batched.prefetchRequests).toEqual([expect.stringMatching(/^POST \/fhir\/?$/)]);
    expect(batched.gatherRequests).toEqual([]);
    expect(oneByOne.gatherRequests.length).toBeGreaterThan(3);
    expect(batched.gathered).toEqual(oneByOne.gathered);
    expect(batched.gathered.status).toBe('complete');
  });

  it('reads one request per input from an EHR that does not announce batch', async () => {
    const oneByOne = await gather(false);
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
              rest: [{ mode: 'server' }],
            },
          }
        : undefined,
    );
    const withoutBatch = await gather(true);
    expect(withoutBatch.prefetchRequests).toEqual([]);
    expect(withoutBatch.gatherRequests).toEqual(oneByOne.gatherRequests);
    expect(withoutBatch.gathered).toEqual(oneByOne.gathered);
  });

  const answerBatchWith = (status: number, headers: Record<string, string> = {}) =>
    ehr.onRequest((req) =>
      req.method === 'POST' && /^\/fhir\/?$/.test(req.path)
        ? {
            status,
            headers,
            body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] },
          }
        : undefined,
    );

  it.each([400, 500])(
    'falls back to one request per input when the EHR answers the batch %i',
    async (status) => {
      const oneByOne = await gather(false);
      answerBatchWith(status);
      const failed = await gather(true);
      expect(failed.prefetchRequests).toEqual([expect.stringMatching(/^POST \/fhir\/?$/)]);
      expect(failed.gatherRequests).toEqual(oneByOne.gatherRequests);
      expect(failed.gathered).toEqual(oneByOne.gathered);
    },
  );

  it.each([429, 503])(
    'backs off instead when the EHR answers the batch %i (busy): the job retries, no request per input',
    async (status) => {
      answerBatchWith(status, { 'Retry-After': '3' });
      const data = new EhrPatientData(client(), patientId);
      const before = ehr.requests.length;
      await expect(data.prefetch(manifest, now)).rejects.toMatchObject({
        status,
        retryable: true,
        retryAfterMs: 3000,
      });
      const sent = ehr.requests.slice(before).filter((r) => !r.path.endsWith('/metadata'));
      expect(sent.map((r) => r.method)).toEqual(['POST']);
    },
  );

  it('finds a resolved myocardial infarction through the EHR: the PCE patient is excluded', async () => {
    const { manifest: withValueSets } = await readPluginFolder(
      resolve(__dirname, '../plugins/prognosis-ascvd-pce'),
    );
    const data = new EhrPatientData(client(), patientId);
    await data.prefetch(withValueSets, now);
    expect(await excludedBecause(withValueSets, data, now)).toBeUndefined();
    await ehr.seed({
      resourceType: 'Condition',
      clinicalStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }],
      },
      code: {
        coding: [{ system: 'http://snomed.info/sct', code: '1755008', display: 'Old myocardial infarction' }],
      },
      subject: { reference: `Patient/${patientId}` },
    } as fhir4.Condition);
    const later = new EhrPatientData(client(), patientId);
    await later.prefetch(withValueSets, now);
    expect(await excludedBecause(withValueSets, later, now)).toBe(
      'excluded: clinical ASCVD (the equations are for primary prevention only) (recorded: Old myocardial infarction)',
    );
    // Not an active Condition: only an exclusion that reads every clinical status finds it.
    expect((await later.activeConditions()).map((c) => c.code?.coding?.[0]?.code)).not.toContain('1755008');
  });
});

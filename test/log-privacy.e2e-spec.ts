import { randomBytes } from 'node:crypto';
import { AegleProcess, spawnAegle } from './support/aegle-process';
import { createTestDatabase, TEST_REDIS_URL, TestDatabase } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { QueueWatch, watchQueues } from './support/queue-watch';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

jest.setTimeout(90_000);

const TOKEN = 'privacy-inbound-token';
/** Values that must never appear in a log line: names, ids, an MRN, a birth date, lab values. */
const FAMILY = 'Quixotzebrowska';
const GIVEN = 'Ottoline';
const PATIENT_ID = 'pt-Vexillarius-7781';
const OTHER_ID = 'pt-Zaffrenhold-4412';
const MRN = 'MRN-99317723';
const CHOLESTEROL_ID = 'obs-Galimatias-0001';

/**
 * Patients with distinctive names and ids go through the whole system at LOG_LEVEL=trace, down the
 * success path and the failure paths (EHR errors, retries, a dead letter, a malformed body); every
 * line the process writes is captured and none may contain them. Lines of one notification share
 * its trace id, from the intake to the last job, and the EHR sees the same trace.
 */
describe('logs: structured, traced, and free of patient data', () => {
  let ehr: TestFhirServer;
  let database: TestDatabase;
  let watch: QueueWatch;
  let aegle: AegleProcess;
  const ehrTraceIds = new Set<string>();

  beforeAll(async () => {
    ehr = await startFhirServer();
    database = await createTestDatabase();
    const queuePrefix = `aegle-privacy-${randomBytes(4).toString('hex')}`;
    watch = await watchQueues(TEST_REDIS_URL, queuePrefix);
    aegle = await spawnAegle({
      databaseUrl: database.url,
      redisUrl: TEST_REDIS_URL,
      queuePrefix,
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      env: { LOG_LEVEL: 'trace' },
    });
  });

  afterAll(async () => {
    await aegle?.stop();
    await watch?.obliterate();
    await watch?.close();
    await database?.drop();
    await ehr?.close();
  });

  it('never writes a patient identifier, name or resource body to a log line', async () => {
    const named = patient(PATIENT_ID, { gender: 'female', age: 63, name: FAMILY });
    named.name = [{ family: FAMILY, given: [GIVEN] }];
    named.identifier = [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: MRN }];
    const [, cholesterol] = await ehr.seed([
      named,
      lab(
        CHOLESTEROL_ID,
        PATIENT_ID,
        '2093-3',
        'Cholesterol [Mass/volume] in Serum or Plasma',
        6.37,
        'mmol/L',
      ),
      lab(`${PATIENT_ID}-hdl`, PATIENT_ID, '2085-9', 'HDL Cholesterol', 47, 'mg/dL'),
      bloodPressurePanel(`${PATIENT_ID}-bp`, PATIENT_ID, 149, 91),
      smokingStatus(`${PATIENT_ID}-smk`, PATIENT_ID, ...NEVER_SMOKER),
    ]);
    const [, otherCholesterol] = await ehr.seed([
      patient(OTHER_ID, { gender: 'male', age: 57, name: FAMILY }),
      lab(`${OTHER_ID}-tc`, OTHER_ID, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 240, 'mg/dL'),
      lab(`${OTHER_ID}-hdl`, OTHER_ID, '2085-9', 'HDL Cholesterol', 38, 'mg/dL'),
      bloodPressurePanel(`${OTHER_ID}-bp`, OTHER_ID, 128, 80),
      smokingStatus(`${OTHER_ID}-smk`, OTHER_ID, ...NEVER_SMOKER),
    ]);

    ehr.onRequest((req) => {
      const trace = String(req.headers.traceparent ?? '').split('-')[1];
      if (trace) ehrTraceIds.add(trace);
      // Write-back sends each result as a transaction Bundle: look at the Observation inside.
      const body = req.body as { subject?: fhir4.Reference; entry?: fhir4.BundleEntry[] } | undefined;
      const subjects = [body, ...(body?.entry ?? []).map((e) => e.resource as fhir4.Observation)].map(
        (r) => r?.subject?.reference,
      );
      // The other patient's result is refused for good: a dead letter with the EHR's outcome.
      if (req.method === 'POST' && subjects.includes(`Patient/${OTHER_ID}`)) {
        return {
          status: 422,
          body: {
            resourceType: 'OperationOutcome',
            issue: [
              {
                severity: 'error',
                code: 'business-rule',
                diagnostics: `Patient/${OTHER_ID} ${FAMILY} is locked`,
              },
            ],
          },
        };
      }
    });
    // Transient EHR errors: retried, and logged (a batch answered 503 fails the job, which backs
    // off; three, so that some reach a job whichever requests they land on).
    ehr.failNext(3, 503);

    const traceId = randomBytes(16).toString('hex');
    const send = (path: string, method: string, body: string) =>
      fetch(`${aegle.url}/fhir/notify/test-ehr${path}`, {
        method,
        headers: {
          'content-type': 'application/fhir+json',
          authorization: `Bearer ${TOKEN}`,
          traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
        },
        body,
      });
    expect((await send(`/Observation/${CHOLESTEROL_ID}`, 'PUT', JSON.stringify(cholesterol))).status).toBe(
      200,
    );
    expect((await send('', 'POST', JSON.stringify(otherCholesterol))).status).toBe(200);
    expect(
      (await send('', 'POST', `{"resourceType":"Patient","id":"${PATIENT_ID}","name":[{"family":"${FAMILY}"`))
        .status,
    ).toBe(400);
    expect(
      (
        await send(
          '',
          'POST',
          JSON.stringify({ resourceType: 'Basic', id: PATIENT_ID, code: { text: FAMILY } }),
        )
      ).status,
    ).toBe(200); // a resource no plugin is triggered by
    await watch.waitForIdle(60_000);
    const exit = await aegle.stop();
    expect(exit.code).toBe(0);

    const lines = aegle.lines.filter((l) => l.trim());
    expect(lines.length).toBeGreaterThan(30); // trace level: a lot was said
    for (const secret of [
      FAMILY,
      GIVEN,
      PATIENT_ID,
      OTHER_ID,
      MRN,
      CHOLESTEROL_ID,
      '6.37',
      'Vexillarius',
      'Zaffrenhold',
    ]) {
      const leaking = lines.filter((line) => line.includes(secret));
      expect({ secret, leaking }).toEqual({ secret, leaking: [] });
    }

    // Structured: every line from the app is JSON (the few that are not are the boot banner and
    // onnxruntime's own native warnings).
    const json = lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    expect(json.length).toBeGreaterThan(lines.length * 0.9);

    // One trace from the EHR's request through every job it caused, and on to the EHR calls.
    const traced = json.filter((l) => l.traceId === traceId);
    const contexts = new Set(traced.map((l) => l.context));
    expect([...contexts]).toEqual(
      expect.arrayContaining(['RouterProcessor', 'RunProcessor', 'ResultWriter']),
    );
    expect(ehrTraceIds.has(traceId)).toBe(true);
    // Failures are logged (with their trace), not swallowed: the retries and the dead letter.
    const retries = json.filter(
      (l) => l.msg === 'job failed; will retry' || l.msg === 'write-back failed; will retry',
    );
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.filter((l) => l.traceId === undefined)).toHaveLength(0);
    // The refusal is a dead letter at the first write-back attempt, in the run's own job.
    const deadLetters = json.filter((l) => l.msg === 'write-back is a dead letter');
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0].traceId).toBeDefined();
  });
});

import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { AegleProcess, spawnAegle } from './support/aegle-process';
import { createTestDatabase, TEST_REDIS_URL, TestDatabase } from './support/aegle-app';
import { freePort } from './support/ports';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..');
const TOKEN = 'first-run-token';

/** A stack trace, printed or inside a JSON log line. */
const stackTrace = /^\s+at \S|\\n\s+at \S|"stack":/;

/** A first run as a newcomer makes it: the shipped config, no EHR yet, no admin token. */
describe('first run', () => {
  let database: TestDatabase;
  let aegle: AegleProcess | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    if (aegle && aegle.child.exitCode === null) await aegle.stop();
    aegle = undefined;
  });
  afterAll(() => database?.drop());

  const start = (options: {
    sources?: Parameters<typeof spawnAegle>[0]['sources'];
    env?: Record<string, string>;
  }) =>
    spawnAegle({
      databaseUrl: database.url,
      redisUrl: TEST_REDIS_URL,
      queuePrefix: `aegle-first-run-${randomBytes(4).toString('hex')}`,
      sources: options.sources ?? [],
      env: options.env,
    });

  it('with the shipped aegle.config.yaml: ready, and says that no EHR is configured yet and the console is off', async () => {
    aegle = await start({ env: { AEGLE_CONFIG: join(ROOT, 'aegle.config.yaml') } });
    await aegle.waitForLine(/^No EHR configured yet: .* Add a source to .*aegle\.config\.yaml/);
    await aegle.waitForLine(
      /^AEGLE_ADMIN_TOKEN is not set: the admin console \(\/console\) and admin API are off/,
    );

    const ready = await fetch(`${aegle.url}/health/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { info: Record<string, { status: string; message?: string }> };
    expect(body.info.ehr).toEqual({ status: 'up', message: expect.stringMatching(/^no EHR configured yet/) });
    expect(aegle.lines.some((line) => /error|fetch failed/i.test(line))).toBe(false);
  });

  it('with an EHR that is down: the readiness probe and the job errors name the source, its URL and the fix, without stack traces', async () => {
    const url = `http://127.0.0.1:${await freePort()}/fhir`;
    aegle = await start({ sources: [{ id: 'down-ehr', fhirBaseUrl: url, bearerToken: TOKEN }] });

    for (let probe = 0; probe < 3; probe++) {
      const ready = await fetch(`${aegle.url}/health/ready`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { error: Record<string, { message?: string }> };
      expect(body.error['ehr:down-ehr'].message).toMatch(
        new RegExp(
          `^EHR 'down-ehr' at ${url.replace(/[.]/g, '\\.')} unreachable \\(read CapabilityStatement\\): fetch failed \\(connect ECONNREFUSED .+\\) ` +
            `\\(fhirBaseUrl of source 'down-ehr' in .+aegle\\.config\\.yaml\\)$`,
        ),
      );
    }

    // A notification whose run must read the patient from the EHR.
    const notified = await fetch(`${aegle.url}/fhir/notify/down-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        resourceType: 'Observation',
        id: 'first-run-obs',
        meta: { versionId: '1' },
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
        subject: { reference: 'Patient/first-run-patient-4711' },
        valueQuantity: { value: 213, unit: 'mg/dL' },
      }),
    });
    expect(notified.status).toBe(200);
    const failed = await aegle.waitForLine((line) => line.includes(`EHR 'down-ehr' at ${url} unreachable (`));
    expect(failed).toMatch(/unreachable \((read|search) \w+\): fetch failed \(connect ECONNREFUSED/);

    expect(aegle.lines.filter((line) => stackTrace.test(line))).toEqual([]);
    expect(aegle.lines.filter((line) => line.includes('first-run-patient-4711'))).toEqual([]);
  });
});

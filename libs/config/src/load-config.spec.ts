import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from './load-config';

const validFile = {
  sources: [
    { id: 'ehr-a', fhirBaseUrl: 'http://127.0.0.1:8080/fhir/', inbound: { bearerToken: 'a-long-token' } },
  ],
};

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults and normalises the FHIR base URL', () => {
    const config = loadConfig({}, validFile);
    expect(config).toMatchObject({
      port: 3000,
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'aegle',
      plugins: { dirs: ['plugins'] },
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.sources[0]).toMatchObject({
      fhirBaseUrl: 'http://127.0.0.1:8080/fhir',
      auth: { type: 'none' },
    });
  });

  it('takes the subscription dialect from the source, defaulting from the topic, and checks what it needs', () => {
    const source = (subscription: object, inbound: object = { bearerToken: 'a-long-token' }) =>
      loadConfig({}, { sources: [{ ...validFile.sources[0], inbound, subscription }] });
    expect(source({}).sources[0].subscription.dialect).toBe('r4');
    expect(source({ topic: 'http://example.org/t' }).sources[0].subscription.dialect).toBe('backport');
    expect(problemsOf(() => source({ dialect: 'medplum', criteria: ['Observation'] }))).toEqual([
      expect.stringMatching(/inbound\.hmacSecret.*dialect medplum needs inbound\.hmacSecret/),
    ]);
    expect(problemsOf(() => source({ dialect: 'backport' }))).toEqual([
      expect.stringMatching(/topic.*dialect backport needs a topic/),
    ]);
    expect(
      problemsOf(() =>
        source({ dialect: 'medplum', topic: 'http://example.org/t' }, { hmacSecret: 'a-secret' }),
      ),
    ).toEqual([expect.stringMatching(/Medplum 5 sends classic rest-hooks only/)]);
  });

  it('lists every bad value at once, from the environment and the file', () => {
    const problems = problemsOf(() =>
      loadConfig(
        { PORT: 'eighty', REDIS_URL: 'http://nope', DATABASE_URL: 'mysql://x' },
        { sources: [{ id: 'Bad Id', fhirBaseUrl: 'ftp://x', inbound: {} }], surprise: true },
      ),
    );
    const text = problems.join('\n');
    expect(text).toMatch(/env PORT/);
    expect(text).toMatch(/env REDIS_URL/);
    expect(text).toMatch(/env DATABASE_URL/);
    expect(text).toMatch(/sources\.0\.id: must be lower-case/);
    expect(text).toMatch(/sources\.0\.fhirBaseUrl/);
    expect(text).toMatch(/sources\.0\.inbound: needs bearerToken or hmacSecret/);
    expect(text).toMatch(/surprise/);
    expect(problems.length).toBeGreaterThanOrEqual(7);
  });

  it('refuses duplicate source ids', () => {
    const problems = problemsOf(() =>
      loadConfig({}, { sources: [validFile.sources[0], validFile.sources[0]] }),
    );
    expect(problems.join('\n')).toMatch(/source ids must be unique/);
  });

  it('never prints secrets', () => {
    const config = loadConfig({ AEGLE_ADMIN_TOKEN: 'admin-secret-value' }, validFile);
    const printed = JSON.stringify(config);
    expect(printed).not.toContain('admin-secret-value');
    expect(printed).not.toContain('a-long-token');
    expect(config.adminToken?.reveal()).toBe('admin-secret-value');
    expect(`${config.sources[0].inbound.bearerToken}`).toBe('[secret]');
  });

  it('reads a missing file as one clear problem', () => {
    const problems = problemsOf(() => loadConfig({ AEGLE_CONFIG: '/nonexistent/aegle.yaml' }));
    expect(problems).toEqual([expect.stringMatching(/\/nonexistent\/aegle\.yaml: ENOENT/)]);
  });

  describe('AEGLE_HTTP_PROCESSES', () => {
    it('defaults to one process', () => {
      expect(loadConfig({}, validFile).httpProcesses).toBe(1);
    });

    it('takes a count, or auto for one per CPU', () => {
      expect(loadConfig({ ROLE: 'api', AEGLE_HTTP_PROCESSES: '3' }, validFile).httpProcesses).toBe(3);
      expect(loadConfig({ ROLE: 'api', AEGLE_HTTP_PROCESSES: 'auto' }, validFile).httpProcesses).toBe(
        availableParallelism(),
      );
    });

    it.each(['0', '-2', '1.5', 'many', '65'])('refuses %s', (value) => {
      const problems = problemsOf(() => loadConfig({ AEGLE_HTTP_PROCESSES: value }, validFile));
      expect(problems).toEqual([expect.stringMatching(/^env AEGLE_HTTP_PROCESSES/)]);
    });

    it('refuses more than one for the worker role, which has no HTTP traffic to share', () => {
      const problems = problemsOf(() => loadConfig({ ROLE: 'worker', AEGLE_HTTP_PROCESSES: '2' }, validFile));
      expect(problems).toEqual([
        expect.stringMatching(/AEGLE_HTTP_PROCESSES: applies to the api and all roles/),
      ]);
      expect(loadConfig({ ROLE: 'worker', AEGLE_HTTP_PROCESSES: '1' }, validFile).httpProcesses).toBe(1);
    });
  });
});

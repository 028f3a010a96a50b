import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './load-config';

const source = (extra: Record<string, unknown>) => ({
  sources: [
    {
      id: 'ehr',
      fhirBaseUrl: 'https://ehr.example.org/fhir/',
      inbound: { bearerToken: 'inbound-token' },
      ...extra,
    },
  ],
});

describe('source config: outbound auth and write-back', () => {
  it('defaults to no auth and a 24-hour retry horizon with superseding as amended', () => {
    const [ehr] = loadConfig({}, source({})).sources;
    expect(ehr.auth).toEqual({ type: 'none' });
    expect(ehr.writeBack).toMatchObject({
      retryHorizonMs: 24 * 3600_000,
      breakerThreshold: 5,
      supersede: 'amended',
      supersedeByPlugin: {},
    });
  });

  it('reads SMART Backend Services with defaults, keeping the private key out of JSON', () => {
    const [ehr] = loadConfig(
      {},
      source({
        auth: {
          type: 'smart-backend-services',
          clientId: 'aegle',
          privateKey: '-----BEGIN PRIVATE KEY-----x',
        },
      }),
    ).sources;
    expect(ehr.auth).toMatchObject({ type: 'smart-backend-services', algorithm: 'RS384' });
    expect(JSON.stringify(ehr.auth)).not.toContain('BEGIN PRIVATE KEY');
  });

  it('reads the private key from the environment through ${ENV} in the YAML, newlines intact', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegle-config-'));
    const path = join(dir, 'aegle.config.yaml');
    writeFileSync(
      path,
      [
        'sources:',
        '  - id: ehr',
        '    fhirBaseUrl: https://ehr.example.org/fhir',
        '    inbound: { bearerToken: inbound-token }',
        '    auth:',
        '      type: smart-backend-services',
        '      clientId: aegle',
        '      algorithm: ES384',
        '      privateKey: ${AEGLE_SMART_KEY}',
      ].join('\n'),
    );
    const key = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----';
    const [ehr] = loadConfig({ AEGLE_CONFIG: path, AEGLE_SMART_KEY: key }).sources;
    expect(ehr.auth.type === 'smart-backend-services' && ehr.auth.privateKey.reveal()).toBe(key);
    expect(() => loadConfig({ AEGLE_CONFIG: path })).toThrow(/AEGLE_SMART_KEY is not set/);
  });

  it.each([
    [{ type: 'oauth2-client-credentials', clientId: 'c', clientSecret: 'long-enough-secret' }, /tokenUrl/],
    [{ type: 'smart-backend-services', clientId: 'c', privateKey: 'k', algorithm: 'HS256' }, /algorithm/],
    [{ type: 'kerberos' }, /auth/],
  ])('refuses an unusable auth block (%j)', (auth, problem) => {
    expect(() => loadConfig({}, source({ auth }))).toThrow(ConfigError);
    expect(() => loadConfig({}, source({ auth }))).toThrow(problem);
  });

  it('takes supersede per plugin', () => {
    const [ehr] = loadConfig(
      {},
      source({
        writeBack: { supersede: 'replaces', supersedeByPlugin: { 'prognosis-ascvd-pce': 'cancelled' } },
      }),
    ).sources;
    expect(ehr.writeBack.supersedeByPlugin['prognosis-ascvd-pce']).toBe('cancelled');
    expect(ehr.writeBack.supersede).toBe('replaces');
    expect(() => loadConfig({}, source({ writeBack: { supersede: 'deleted' } }))).toThrow(/supersede/);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './load-config';

function writeYaml(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'aegle-config-')), 'aegle.yaml');
  writeFileSync(path, text);
  return path;
}

const yaml = `
sources:
  - id: ehr
    fhirBaseUrl: \${EHR_URL:-http://127.0.0.1:8080/fhir}
    inbound:
      bearerToken: \${EHR_TOKEN}
`;

describe('${ENV} interpolation in the YAML file', () => {
  it('takes secrets from the environment and falls back to defaults', () => {
    const config = loadConfig({ AEGLE_CONFIG: writeYaml(yaml), EHR_TOKEN: 'from-the-environment' });
    expect(config.sources[0].fhirBaseUrl).toBe('http://127.0.0.1:8080/fhir');
    expect(config.sources[0].inbound.bearerToken?.reveal()).toBe('from-the-environment');
  });

  it('names the variable that is missing', () => {
    expect(() => loadConfig({ AEGLE_CONFIG: writeYaml(yaml) })).toThrow(ConfigError);
    expect(() => loadConfig({ AEGLE_CONFIG: writeYaml(yaml) })).toThrow(
      /sources\.0\.inbound\.bearerToken: environment variable EHR_TOKEN is not set/,
    );
  });
});

import { loadConfig, ConfigError } from '@aegle/config';
import { inputHmac, protectInputs } from './input-policy';

const source = { id: 'ehr', fhirBaseUrl: 'http://127.0.0.1/fhir', inbound: { bearerToken: 'token-123456' } };
const audit = (block: Record<string, unknown>) => loadConfig({}, { sources: [source], audit: block }).audit;

const inputs = {
  totalCholesterol: {
    value: 213,
    unit: 'mg/dL',
    display: '213 mg/dL',
    source: { reference: 'Observation/tc/_history/2' },
  },
  age: { value: 55 },
  currentSmoker: { value: 1, display: 'Smokes tobacco daily' },
  race: {
    label: 'race',
    value: 0,
    display: 'not recorded',
    recorded: false,
    defaulted: true,
    caveat: 'Race not recorded: the white equations were used.',
  },
};

describe('the PHI policy for stored inputs', () => {
  it('keeps the values under storeInputs: full (the default)', () => {
    expect(protectInputs(inputs, audit({}))).toBe(inputs);
  });

  it('keeps only a keyed hash of each value under storeInputs: hash, with unit and source', () => {
    const policy = audit({ storeInputs: 'hash', inputHashKey: 'hospital-secret-key' });
    const stored = protectInputs(inputs, policy) as Record<string, Record<string, unknown>>;
    expect(stored.totalCholesterol).toEqual({
      unit: 'mg/dL',
      source: { reference: 'Observation/tc/_history/2' },
      valueHmac: inputHmac('hospital-secret-key', 'totalCholesterol', 213),
    });
    expect(JSON.stringify(stored)).not.toMatch(
      /213|"value"|"display"|Smokes|not recorded|"recorded"|"defaulted"/,
    );
    expect(stored.race).toEqual({ label: 'race', valueHmac: inputHmac('hospital-secret-key', 'race', 0) });
    // Whoever holds the key can check a claimed value; a different value or key does not match.
    expect(stored.age.valueHmac).toBe(inputHmac('hospital-secret-key', 'age', 55));
    expect(stored.age.valueHmac).not.toBe(inputHmac('hospital-secret-key', 'age', 56));
    expect(stored.age.valueHmac).not.toBe(inputHmac('another-key-entirely', 'age', 55));
  });

  it("keeps only a keyed hash of an image input's tensor too", () => {
    const policy = audit({ storeInputs: 'hash', inputHashKey: 'hospital-secret-key' });
    const image = { value: 131.25, values: [17, 250, 131, 127], display: 'series 1 instance 1 (CR PA)' };
    const stored = protectInputs({ chestXray: image }, policy) as Record<string, Record<string, unknown>>;
    expect(stored.chestXray).toEqual({
      valueHmac: inputHmac('hospital-secret-key', 'chestXray', 131.25),
      valuesHmac: inputHmac('hospital-secret-key', 'chestXray', [17, 250, 131, 127]),
    });
  });

  it('refuses storeInputs: hash without a key, saying why', () => {
    expect(() => audit({ storeInputs: 'hash' })).toThrow(ConfigError);
    expect(() => audit({ storeInputs: 'hash' })).toThrow(/inputHashKey.*easily reversed/);
  });

  it('refuses a retention age that is not positive', () => {
    expect(() => audit({ retention: { maxAgeDays: 0 } })).toThrow(/retention\.maxAgeDays/);
  });
});

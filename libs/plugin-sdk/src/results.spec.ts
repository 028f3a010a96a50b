import { OutputSpec } from './manifest';
import { groupFindings, resultContextOf, RunResult, storedFindings } from './results';

const code = { system: 'http://example.org/cs', code: 'fna' };
const spec = (tensor: string, extra: Partial<OutputSpec> = {}): OutputSpec => ({
  tensor,
  code,
  unit: '1',
  scale: 1,
  probability: false,
  ...extra,
});

describe('groupFindings', () => {
  it('makes outputs sharing a code with component codes one Observation', () => {
    const specs = [
      spec('malignant', { component: { system: 'http://example.org/cs', code: 'malignant' } }),
      spec('benign', { component: { system: 'http://example.org/cs', code: 'benign' } }),
      spec('risk', { code: { system: 'http://loinc.org', code: '1-1' } }),
    ];
    const groups = groupFindings(
      [
        { tensor: 'malignant', code, value: 0.9, unit: '1' },
        { tensor: 'benign', code, value: 0.1, unit: '1' },
        { tensor: 'risk', code: { system: 'http://loinc.org', code: '1-1' }, value: 3, unit: '1' },
      ],
      specs,
    );
    expect(groups).toHaveLength(2);
    expect(groups[0].findings.map((f) => f.spec.component?.code)).toEqual(['malignant', 'benign']);
    expect(groups[1].findings).toHaveLength(1);
  });

  it('keeps outputs without component codes apart, even with one code', () => {
    const groups = groupFindings(
      [
        { tensor: 'a', code, value: 1, unit: '1' },
        { tensor: 'b', code, value: 2, unit: '1' },
      ],
      [spec('a'), spec('b')],
    );
    expect(groups).toHaveLength(2);
  });

  it('ignores a finding the manifest no longer declares', () => {
    expect(groupFindings([{ tensor: 'gone', code, value: 1, unit: '1' }], [spec('a')])).toEqual([]);
  });
});

describe('RunResult', () => {
  it('stores each finding with its output, then gives write-back the context to write it in', () => {
    const output = spec('risk', { bands: [{ text: 'high', min: 0.5 }] });
    const findings = storedFindings([{ output, value: 0.7, band: { text: 'high' }, note: 'n' }]);
    expect(findings).toEqual([
      { tensor: 'risk', code, value: 0.7, unit: '1', band: { text: 'high' }, note: 'n' },
    ]);
    // A row as runs have always stored it: no encounter key when the focus named none.
    const stored: RunResult = JSON.parse(
      JSON.stringify({
        raw: { risk: [0.7] },
        findings,
        effective: '2026-05-01T00:00:00Z',
        sources: ['Observation/a/_history/1'],
        focus: 'Observation/a/_history/1',
      }),
    );
    const run = { sourceId: 'ehr', subject: 'Patient/p', device: 'Device/d', issued: '2026-06-01T00:00:00Z' };
    expect(resultContextOf(stored, run)).toEqual({
      ...run,
      focus: 'Observation/a/_history/1',
      effective: '2026-05-01T00:00:00Z',
      derivedFrom: ['Observation/a/_history/1'],
    });
    expect(resultContextOf({ ...stored, encounter: 'Encounter/e' }, run).encounter).toBe('Encounter/e');
  });
});

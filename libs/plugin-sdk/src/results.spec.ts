import { OutputSpec } from './manifest';
import { groupFindings } from './results';

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

import { canaryBucket, selectVersions } from './rollout';

const ID = 'prognosis-ascvd-pce';
const patients = Array.from({ length: 2000 }, (_, i) => `patient-${i}`);

describe('rollout: which versions run for a patient', () => {
  it('without config, runs the highest version live and leaves the others idle', () => {
    expect(selectVersions(ID, ['1.0.0', '1.10.0', '1.2.0'], undefined, 'p1')).toEqual([
      { version: '1.10.0', mode: 'live' },
    ]);
  });

  it('pins the live version, and runs shadow versions on every event without writing', () => {
    expect(
      selectVersions(ID, ['1.0.0', '1.1.0', '2.0.0'], { live: '1.0.0', shadow: ['2.0.0'] }, 'p1'),
    ).toEqual([
      { version: '1.0.0', mode: 'live' },
      { version: '2.0.0', mode: 'shadow' },
    ]);
  });

  it('runs nothing live when the pinned version is not loaded, rather than another version', () => {
    expect(selectVersions(ID, ['1.1.0'], { live: '1.0.0', shadow: ['1.1.0'] }, 'p1')).toEqual([
      { version: '1.1.0', mode: 'shadow' },
    ]);
  });

  it('gives the canary its share of patients, each patient always the same version', () => {
    const rollout = { live: '1.0.0', canary: { version: '1.1.0', percent: 20 }, shadow: [] };
    const chosen = patients.map((p) => selectVersions(ID, ['1.0.0', '1.1.0'], rollout, p));
    const canary = chosen.filter((c) => c[0].mode === 'canary');
    expect(canary.length / patients.length).toBeGreaterThan(0.17);
    expect(canary.length / patients.length).toBeLessThan(0.23);
    for (const c of chosen) expect(c).toHaveLength(1); // one writer per patient: never both versions
    expect(patients.map((p) => selectVersions(ID, ['1.0.0', '1.1.0'], rollout, p))).toEqual(chosen);
  });

  it('keeps a patient in the canary as its share grows (0 → 100 % moves patients one way)', () => {
    const inAt = (percent: number) => new Set(patients.filter((p) => canaryBucket(ID, p) < percent));
    const at10 = inAt(10);
    const at50 = inAt(50);
    for (const p of at10) expect(at50.has(p)).toBe(true);
    expect(inAt(0).size).toBe(0);
    expect(inAt(100).size).toBe(patients.length);
  });

  it('buckets patients independently per plugin', () => {
    const a = patients.filter((p) => canaryBucket(ID, p) < 50);
    const b = patients.filter((p) => canaryBucket('treatment-warfarin-iwpc', p) < 50);
    expect(a).not.toEqual(b);
  });

  it('a canary patient does not also run the canary version in shadow', () => {
    const rollout = { live: '1.0.0', canary: { version: '1.1.0', percent: 100 }, shadow: ['1.1.0'] };
    expect(selectVersions(ID, ['1.0.0', '1.1.0'], rollout, 'p1')).toEqual([
      { version: '1.1.0', mode: 'canary' },
    ]);
  });
});

import { isDiplotype, normaliseGenotype } from './genotype';

const CYP2C9 = { gene: 'CYP2C9' };
const VKORC1 = {
  gene: 'VKORC1',
  variant: ['rs9923231', 'c.-1639G>A', '-1639G>A', '-1639'],
  alleles: { C: 'G', T: 'A' },
};

describe('genotype normalisation', () => {
  it.each([
    ['*1/*3', '*1/*3'],
    ['*3/*1', '*1/*3'],
    ['CYP2C9*1/*3', '*1/*3'],
    ['CYP2C9 *2/*5', '*2/*5'],
    ['cyp2c9*3/cyp2c9*1', '*1/*3'],
    [' CYP2C9 *10/*2 ', '*2/*10'],
  ])('reads the CYP2C9 diplotype %s as %s', (raw, key) => {
    expect(normaliseGenotype(raw, CYP2C9)).toBe(key);
  });

  it.each([
    ['G/A', 'A/G'],
    ['a/g', 'A/G'],
    ['rs9923231 C/T', 'A/G'],
    ['rs9923231 T/T', 'A/A'],
    ['T/T', 'A/A'],
    ['CC', 'G/G'],
    ['VKORC1 -1639G/A', 'A/G'],
    ['-1639 A/A', 'A/A'],
    ['NM_024006.6:c.[-1639G>A];[-1639G>A]', 'A/A'],
    ['NM_024006.6:c.[-1639G>A];[-1639=]', 'A/G'],
    ['NC_000016.10:g.[31096368C>T];[31096368=]', 'A/G'],
  ])('reads the VKORC1 genotype %s as %s', (raw, key) => {
    expect(normaliseGenotype(raw, VKORC1)).toBe(key);
  });

  it('leaves what is not a pair of alleles as upper-case text, never a diplotype', () => {
    expect(normaliseGenotype('Indeterminate', CYP2C9)).toBe('INDETERMINATE');
    expect(isDiplotype(normaliseGenotype('Indeterminate', CYP2C9))).toBe(false);
    expect(isDiplotype(normaliseGenotype('Poor metabolizer', CYP2C9))).toBe(false);
    expect(isDiplotype(normaliseGenotype('CYP2C9 *2/*5', CYP2C9))).toBe(true);
  });
});

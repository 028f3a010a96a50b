/**
 * How a plugin's manifest describes one gene's genotype results, so that every way a laboratory
 * writes the same diplotype (`CYP2C9*1/*3`, `CYP2C9 *3/*1`, `*1/*3`, `cyp2c9*1/cyp2c9*3`; `A/G`,
 * `G/A`, `rs9923231 C/T`, `NM_024006.6:c.[-1639G>A];[-1639=]`) reads as one key.
 */
export interface GenotypeSpec {
  /** Gene symbol, as labs prefix it to alleles (e.g. `CYP2C9`). */
  gene: string;
  /** Names of the one variant a SNV genotype is about, stripped from values (e.g. `rs9923231`, `c.-1639G>A`). */
  variant?: string[];
  /** The same allele written on the other strand, e.g. `{ "C": "G", "T": "A" }` for rs9923231 on the plus strand. */
  alleles?: Record<string, string>;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `NM_024006.6:`, `NC_000016.10:`: the reference sequence before an HGVS description. */
const REFERENCE_SEQUENCE = /\b(?:N[CGMRT]|ENS[TG])_?\d+(?:\.\d+)?:/g;
/** HGVS for both alleles of one variant: `c.[-1639G>A];[-1639=]`, `g.[31096368C>T];[31096368C>T]`. */
const HGVS_ALLELES = /\b[cgn]\.\[([^\]]*)\];\[([^\]]*)\]/i;

/**
 * The canonical key of a genotype as a laboratory wrote it: gene name and variant name removed,
 * upper case, alleles on the declared strand, the two alleles in a fixed order (`*1/*3`, `A/G`).
 * A value that is not a pair of alleles (`Indeterminate`) comes back upper-cased and trimmed.
 */
export function normaliseGenotype(raw: string, spec: GenotypeSpec): string {
  let text = raw.trim().toUpperCase().replace(REFERENCE_SEQUENCE, '');
  const hgvs = HGVS_ALLELES.exec(text);
  if (hgvs) {
    const reference = referenceAllele(spec, hgvs[1], hgvs[2]);
    const pair = [hgvs[1], hgvs[2]].map((allele) => hgvsAllele(allele, reference));
    if (pair.every((a): a is string => !!a)) return canonicalPair(pair, spec);
  }
  text = text.replace(new RegExp(`\\b${escape(spec.gene.toUpperCase())}\\b\\s*`, 'g'), '');
  for (const name of [...(spec.variant ?? [])].sort((a, b) => b.length - a.length)) {
    text = text.split(name.toUpperCase()).join(' ');
  }
  text = text.replace(/^[\s:,;-]+|[\s:,;-]+$/g, '');
  const parts = splitPair(text);
  return parts ? canonicalPair(parts, spec) : text.replace(/\s+/g, ' ');
}

function splitPair(text: string): string[] | undefined {
  const parts = text.split(/\s*[/|]\s*/);
  if (parts.length === 2 && parts.every((p) => /^(\*\d+[A-Z0-9.]*|[ACGT]+|-|DEL|INS)$/.test(p))) return parts;
  // "AG", "TT": a SNV genotype without separator
  if (/^[ACGT]{2}$/.test(text)) return [text[0], text[1]];
  return undefined;
}

/** The reference base, from the declared variant name (`c.-1639G>A`) or from an allele (`-1639G>A`). */
function referenceAllele(spec: GenotypeSpec, ...alleles: string[]): string | undefined {
  for (const text of [...alleles, ...(spec.variant ?? []).map((v) => v.toUpperCase())]) {
    const substitution = /([ACGT])>[ACGT]/.exec(text);
    if (substitution) return substitution[1];
  }
  return undefined;
}

/** One HGVS allele: `-1639G>A` is A, `-1639=` or `=` is the reference base. */
function hgvsAllele(allele: string, reference: string | undefined): string | undefined {
  const substitution = /[ACGT]>([ACGT])$/.exec(allele);
  if (substitution) return substitution[1];
  return /=$/.test(allele) ? reference : undefined;
}

function canonicalPair(parts: string[], spec: GenotypeSpec): string {
  const synonyms = Object.fromEntries(
    Object.entries(spec.alleles ?? {}).map(([from, to]) => [from.toUpperCase(), to.toUpperCase()]),
  );
  return parts
    .map((p) => synonyms[p] ?? p)
    .sort(compareAlleles)
    .join('/');
}

/** Star alleles by number (`*2` before `*10`), bases alphabetically. */
function compareAlleles(a: string, b: string): number {
  const [x, y] = [a, b].map((allele) => /^\*(\d+)/.exec(allele)?.[1]);
  if (x !== undefined && y !== undefined && x !== y) return Number(x) - Number(y);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True for a normalised pair of alleles (`*1/*3`, `A/G`), as opposed to text such as `INDETERMINATE`. */
export function isDiplotype(normalised: string): boolean {
  return splitPair(normalised) !== undefined;
}

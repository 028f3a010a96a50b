import { UcumLhcUtils } from '@lhncbc/ucum-lhc';

const ucum = UcumLhcUtils.getInstance();

/** Converts a quantity between UCUM units (mass ↔ molar with a molar mass); undefined when impossible. */
export function convertUnit(value: number, from: string, to: string, molarMass?: number): number | undefined {
  if (from === to) return value;
  const result = ucum.convertUnitTo(from, value, to, { molecularWeight: molarMass ?? null });
  return result.status === 'succeeded' && typeof result.toVal === 'number' ? result.toVal : undefined;
}

import { codingMatches, conceptMatches } from './coding-match';
import { extract, quantityIn } from './inputs';
import { ExclusionSpec, PluginManifest } from './manifest';
import { PatientData } from './patient-data';

/**
 * The first of the manifest's exclusion criteria this patient meets, as the words of a skip
 * reason (`excluded: clinical ASCVD (recorded: Old myocardial infarction)`), or undefined.
 */
export async function excludedBecause(
  manifest: PluginManifest,
  data: PatientData,
  now: Date,
): Promise<string | undefined> {
  for (const exclusion of manifest.exclusions) {
    const evidence = await evidenceFor(exclusion, data, now);
    if (evidence && 'found' in evidence)
      return `excluded: ${exclusion.criterion} (recorded: ${evidence.found})`;
    // A criterion the record cannot be checked against is not taken as met nor as not met.
    if (evidence) return `exclusion not checkable: ${exclusion.criterion}: ${evidence.unreadable}`;
  }
  return undefined;
}

/**
 * What in the record meets the criterion, in a clinician's words; why the recorded value cannot be
 * compared with it; or undefined when nothing meets it.
 */
async function evidenceFor(
  exclusion: ExclusionSpec,
  data: PatientData,
  now: Date,
): Promise<{ found: string } | { unreadable: string } | undefined> {
  if (exclusion.condition) {
    const codes = exclusion.condition.codes ?? [];
    const conditions =
      exclusion.condition.status === 'any' ? await data.conditions() : await data.activeConditions();
    const match = conditions.find((c) => conceptMatches(c.code, codes));
    if (!match) return undefined;
    const coding = match.code?.coding?.find((c) => codingMatches(c, codes));
    return { found: match.code?.text ?? coding?.display ?? `${coding?.system}|${coding?.code}` };
  }
  const rule = exclusion.observation!;
  const found = await extract(
    { from: 'observation', codes: rule.codes, lookback: rule.lookback, path: rule.path },
    data,
    now,
  );
  const value = found.raw[0];
  if (value === undefined) return undefined;
  if (rule.values) {
    const concept = value as fhir4.CodeableConcept;
    const wanted = rule.values.map((v) => v.toLowerCase());
    const hit = (concept.coding ?? []).find(
      (c) =>
        wanted.includes(`${c.system}|${c.code}`.toLowerCase()) ||
        wanted.includes((c.code ?? '').toLowerCase()),
    );
    return hit ? { found: concept.text ?? hit.display ?? hit.code ?? '' } : undefined;
  }
  const quantity = quantityIn(value, rule.unit, rule.molarMass);
  if (quantity.value === undefined) return { unreadable: quantity.problem ?? 'no value' };
  if (quantity.value < rule.atLeast!) return undefined;
  const shown = Math.round(quantity.value * 10) / 10;
  const when = found.source?.effective ? ` on ${found.source.effective.slice(0, 10)}` : '';
  return { found: `${shown}${rule.unit ? ` ${rule.unit}` : ''}${when}` };
}

/** Matches codings against `system|code` patterns; a trailing `*` in the code matches a prefix. */
export function codingMatches(coding: fhir4.Coding | undefined, patterns: readonly string[]): boolean {
  if (!coding?.system || !coding.code) return false;
  return patterns.some((pattern) => {
    const [system, code] = pattern.split('|');
    if (system !== coding.system) return false;
    return code.endsWith('*') ? coding.code!.startsWith(code.slice(0, -1)) : coding.code === code;
  });
}

export function conceptMatches(
  concept: fhir4.CodeableConcept | undefined,
  patterns: readonly string[],
): boolean {
  return (concept?.coding ?? []).some((coding) => codingMatches(coding, patterns));
}

/** True when any of the names appears as a whole word in the concept's text or codings' displays. */
export function conceptNamed(
  concept: fhir4.CodeableConcept | undefined,
  names: readonly string[] | undefined,
): boolean {
  if (!concept || !names?.length) return false;
  const text = [concept.text, ...(concept.coding ?? []).map((c) => c.display)]
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
  return names.some((name) => new RegExp(`\\b${name.replace(/[-]/g, '\\-')}\\b`).test(text));
}

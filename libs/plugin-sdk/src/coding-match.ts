/** Matches codings against `system|code` patterns; a trailing `*` in the code matches a prefix. */
export function codingMatches(coding: fhir4.Coding | undefined, patterns: readonly string[]): boolean {
  if (!coding?.system || !coding.code) return false;
  return patterns.some((pattern) => {
    const [system, code] = pattern.split('|');
    if (system !== coding.system) return false;
    return code.endsWith('*') ? coding.code!.startsWith(code.slice(0, -1)) : coding.code === code;
  });
}

export function conceptMatches(concept: fhir4.CodeableConcept | undefined, patterns: readonly string[]): boolean {
  return (concept?.coding ?? []).some((coding) => codingMatches(coding, patterns));
}

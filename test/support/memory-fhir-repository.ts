// The test FHIR server's store: Medplum's MemoryRepository with transactions that roll back,
// ordered history, and indexed searches, so a search costs what it finds, not what is stored.
import {
  evalFhirPath,
  type Filter,
  getSearchParameter,
  matchesSearchRequest,
  Operator,
  type SearchRequest,
  type WithId,
} from '@medplum/core';
import { MemoryRepository, type ReadHistoryOptions } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';

type Store<V> = Map<string, Map<string, V>>;

/** One write inside a transaction, enough to take it back. */
interface Undo {
  resourceType: string;
  id: string;
  /** What was stored under the id before, or undefined when the write created it. */
  previous: Resource | undefined;
  historyLength: number;
}

/**
 * MemoryRepository plus what a real server's store has and the base lacks:
 * - transactions roll back on failure (the base runs them without isolation), by an undo log of
 *   the writes made inside them, so a transaction costs what it writes, not what is stored;
 * - history stays in order (the base reverses its version list in place on every read) and pages;
 * - searches use indexes: the base evaluates every filter's FHIRPath on every stored resource of the
 *   type, which made a search cost tens of milliseconds at a few thousand resources and starved every
 *   other request of the (serialised) server. Equality filters on `_id`, `identifier` and reference
 *   parameters (subject, patient, target, ...) narrow the candidates through an index; the full
 *   Medplum matcher then runs on those few, so results are exactly the base's.
 */
export class TransactionalMemoryRepository extends MemoryRepository {
  private undoLog: Undo[] | undefined;
  /** resourceType -> search parameter code -> key -> ids; a superset of the true matches. */
  private readonly indexes = new Map<string, Map<string, Map<string, Set<string>>>>();
  /** Storage order, the order the base returns unsorted matches in. */
  private readonly position = new Map<string, number>();
  private written = 0;

  // The base class keeps its state in TypeScript-private maps; undo and indexes need to reach them.
  private get resourceMap(): Store<Resource> {
    return (this as unknown as { resources: Store<Resource> }).resources;
  }

  private get historyMap(): Store<Resource[]> {
    return (this as unknown as { history: Store<Resource[]> }).history;
  }

  override clear(): void {
    super.clear();
    this.indexes.clear();
    this.position.clear();
  }

  override async createResource<T extends Resource>(resource: T): Promise<WithId<T>> {
    const before = resource.id ? this.resourceMap.get(resource.resourceType)?.get(resource.id) : undefined;
    const historyLength = resource.id
      ? (this.historyMap.get(resource.resourceType)?.get(resource.id)?.length ?? 0)
      : 0;
    const created = await super.createResource(resource);
    this.undoLog?.push({
      resourceType: created.resourceType,
      id: created.id,
      previous: before,
      historyLength,
    });
    const key = `${created.resourceType}/${created.id}`;
    if (!before) this.position.set(key, this.written++);
    this.indexResource(created);
    return created;
  }

  override async deleteResource(resourceType: string, id: string): Promise<void> {
    const previous = this.resourceMap.get(resourceType)?.get(id);
    await super.deleteResource(resourceType, id);
    const historyLength = this.historyMap.get(resourceType)?.get(id)?.length ?? 0;
    this.undoLog?.push({ resourceType, id, previous, historyLength });
  }

  override async withTransaction<TResult>(
    callback: (client: undefined) => Promise<TResult>,
  ): Promise<TResult> {
    if (this.undoLog) return callback(undefined); // nested: the outer call owns the undo log
    const log: Undo[] = [];
    this.undoLog = log;
    try {
      return await callback(undefined);
    } catch (err) {
      for (const undo of log.reverse()) this.undo(undo);
      throw err;
    } finally {
      this.undoLog = undefined;
    }
  }

  private undo({ resourceType, id, previous, historyLength }: Undo): void {
    const resources = this.resourceMap.get(resourceType);
    if (previous) resources?.set(id, previous);
    else resources?.delete(id);
    const versions = this.historyMap.get(resourceType);
    const list = versions?.get(id);
    if (!list) return;
    if (historyLength === 0) versions!.delete(id);
    else list.length = historyLength;
    // Index entries of the undone write stay: indexes are supersets, checked by the matcher.
  }

  override async search<T extends Resource>(request: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const candidates = this.candidates(request);
    if (!candidates) return super.search(request);
    const stored = this.resourceMap.get(request.resourceType);
    const matches: Resource[] = [];
    for (const id of candidates) {
      const resource = stored?.get(id);
      if (resource && matchesSearchRequest(resource, request as SearchRequest)) matches.push(resource);
    }
    let ordered = matches.sort(
      (a, b) =>
        (this.position.get(`${a.resourceType}/${a.id}`) ?? 0) -
        (this.position.get(`${b.resourceType}/${b.id}`) ?? 0),
    );
    for (const rule of request.sortRules ?? []) ordered = sortBy(ordered, rule.code, rule.descending);
    const page = ordered.slice(
      request.offset ?? 0,
      request.count === undefined ? undefined : (request.offset ?? 0) + request.count,
    );
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: page.length ? page.map((r) => ({ resource: structuredClone(r) as WithId<T> })) : undefined,
      total: matches.length,
    };
  }

  /** Ids that may match, from the narrowest indexable filter; undefined when none is indexable. */
  private candidates(request: SearchRequest): Set<string> | undefined {
    let best: Set<string> | undefined;
    for (const filter of request.filters ?? []) {
      const ids = this.lookup(request.resourceType, filter);
      if (ids && (!best || ids.size < best.size)) best = ids;
    }
    return best;
  }

  private lookup(resourceType: string, filter: Filter): Set<string> | undefined {
    if (filter.operator !== Operator.EQUALS) return undefined;
    const values = filter.value.split(',');
    if (filter.code === '_id') return new Set(values);
    if (!indexable(resourceType, filter.code)) return undefined;
    const keys = values.map((v) => queryKey(filter.code, v));
    if (keys.some((k) => k === undefined)) return undefined;
    const index = this.index(resourceType, filter.code);
    const ids = new Set<string>();
    for (const key of keys) index.get(key!)?.forEach((id) => ids.add(id));
    return ids;
  }

  /** The index of one parameter of one type, built on its first search and kept up to date after. */
  private index(resourceType: string, code: string): Map<string, Set<string>> {
    let byCode = this.indexes.get(resourceType);
    if (!byCode) this.indexes.set(resourceType, (byCode = new Map()));
    let index = byCode.get(code);
    if (!index) {
      byCode.set(code, (index = new Map()));
      for (const versions of this.historyMap.get(resourceType)?.values() ?? []) {
        for (const version of versions) addToIndex(index, code, version);
      }
    }
    return index;
  }

  private indexResource(resource: WithId<Resource>): void {
    for (const [code, index] of this.indexes.get(resource.resourceType) ?? []) {
      addToIndex(index, code, resource);
    }
  }

  override async readHistory<T extends Resource>(
    resourceType: string,
    id: string,
    options?: ReadHistoryOptions,
  ): Promise<Bundle<T>> {
    const bundle = await super.readHistory<T>(resourceType, id);
    this.historyMap.get(resourceType)?.get(id)?.reverse();
    const all = bundle.entry ?? [];
    const offset = options?.offset ?? 0;
    const page = all.slice(offset, options?.limit ? offset + options.limit : undefined);
    return { ...bundle, total: all.length, entry: page.length ? page : undefined };
  }
}

/** `identifier`, and reference parameters whose path needs no `resolve()` (too dear to index). */
function indexable(resourceType: string, code: string): boolean {
  if (code === 'identifier') return true;
  const param = getSearchParameter(resourceType, code);
  return param?.type === 'reference' && !!param.expression && !param.expression.includes('resolve(');
}

/** `Type/id` of a reference, whether relative, absolute or versioned; placeholders as they are. */
function referenceKey(reference: string): string | undefined {
  if (reference.startsWith('urn:')) return reference;
  const match = /([A-Za-z]+\/[^/]+)(\/_history\/[^/]+)?$/.exec(reference);
  return match?.[1];
}

/** The index key a filter value looks up; undefined when the index cannot answer it. */
function queryKey(code: string, value: string): string | undefined {
  if (code !== 'identifier') return referenceKey(value);
  if (!value.includes('|')) return `|${value}`; // any system
  const [system, identifierValue] = value.split('|');
  if (!identifierValue) return undefined; // every value of a system: not indexed
  return system ? `${system}|${identifierValue}` : `|${identifierValue}`;
}

function addToIndex(index: Map<string, Set<string>>, code: string, resource: Resource): void {
  const keys: string[] = [];
  if (code === 'identifier') {
    for (const i of (resource as { identifier?: Array<{ system?: string; value?: string }> }).identifier ??
      []) {
      if (!i.value) continue;
      keys.push(`|${i.value}`);
      if (i.system) keys.push(`${i.system}|${i.value}`);
    }
  } else {
    const param = getSearchParameter(resource.resourceType, code)!;
    for (const value of evalFhirPath(param.expression!, resource)) {
      const reference = (value as { reference?: string } | undefined)?.reference;
      const key = reference && referenceKey(reference);
      if (key) keys.push(key);
    }
  }
  for (const key of keys) {
    let ids = index.get(key);
    if (!ids) index.set(key, (ids = new Set()));
    ids.add(resource.id!);
  }
}

/** The base's sort (JSON of the parameter's values, compared as text), each key computed once. */
function sortBy<T extends Resource>(resources: T[], code: string, descending?: boolean): T[] {
  const expression = resources[0] && getSearchParameter(resources[0].resourceType, code)?.expression;
  if (!expression) return resources;
  const keyed = resources.map((r) => ({ r, key: JSON.stringify(evalFhirPath(expression, r)) }));
  keyed.sort((a, b) => a.key.localeCompare(b.key) * (descending ? -1 : 1));
  return keyed.map((k) => k.r);
}

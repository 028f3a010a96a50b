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
 *   other request of the (serialised) server. Equality filters on `_id`, reference parameters
 *   (subject, patient, target, ...) and token parameters (identifier, code, status, ...) each narrow
 *   the candidates through an index, as do `_lastUpdated` ranges (through the write order); the
 *   candidates are those in every index a filter could use, and the full Medplum matcher then runs on
 *   those few, so results are exactly the base's. A long run measures the client, not this store.
 */
export class TransactionalMemoryRepository extends MemoryRepository {
  private undoLog: Undo[] | undefined;
  /** resourceType -> search parameter code -> key -> ids; a superset of the true matches. */
  private readonly indexes = new Map<string, Map<string, Map<string, Set<string>>>>();
  /** Storage order, the order the base returns unsorted matches in. */
  private readonly position = new Map<string, number>();
  /** resourceType -> every write as [lastUpdated ms, id], in write order (so in time order). */
  private readonly updates = new Map<string, Array<[number, string]>>();
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
    this.updates.clear();
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
    this.logUpdate(created);
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

  /**
   * Ids that may match: those in every index a filter could use; undefined when none could. Only
   * the narrowest filter's ids are gathered; the others' sets are only asked, so a search costs what
   * its narrowest filter finds (a patient's results), not what a broad one does (all cholesterols).
   */
  private candidates(request: SearchRequest): Set<string> | undefined {
    const found: Set<string>[][] = [];
    for (const filter of request.filters ?? []) {
      const sets = this.lookup(request.resourceType, filter);
      if (sets) found.push(sets);
    }
    if (found.length === 0) return undefined;
    const size = (sets: Set<string>[]) => sets.reduce((sum, ids) => sum + ids.size, 0);
    const [narrowest, ...others] = found.sort((a, b) => size(a) - size(b));
    const ids = new Set<string>();
    for (const set of narrowest)
      for (const id of set) if (others.every((sets) => sets.some((s) => s.has(id)))) ids.add(id);
    return ids;
  }

  /** The ids a filter may match, as the index's sets (one per value of the filter), not copied. */
  private lookup(resourceType: string, filter: Filter): Set<string>[] | undefined {
    if (filter.code === '_lastUpdated') {
      const ids = this.updatedIn(resourceType, filter);
      return ids && [ids];
    }
    if (filter.operator !== Operator.EQUALS) return undefined;
    const values = filter.value.split(',');
    if (filter.code === '_id') return [new Set(values)];
    if (!indexable(resourceType, filter.code)) return undefined;
    const keys = values.map((v) => queryKey(resourceType, filter.code, v));
    if (keys.some((k) => k === undefined)) return undefined;
    const index = this.index(resourceType, filter.code);
    return keys.flatMap((key) => index.get(key!) ?? []);
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

  /** Ids written within a `_lastUpdated` bound (a superset: an id's older writes are there too). */
  private updatedIn(resourceType: string, filter: Filter): Set<string> | undefined {
    const bound = Date.parse(filter.value);
    const after = filter.operator === Operator.GREATER_THAN || filter.operator === Operator.STARTS_AFTER;
    const from = after || filter.operator === Operator.GREATER_THAN_OR_EQUALS;
    if (Number.isNaN(bound) || !from) return undefined; // upper bounds hold nearly everything
    const log = this.updates.get(resourceType) ?? [];
    // The first write at or after the bound (a date-only bound such as `gt2026-01-02` is a day: the
    // matcher decides the edges; the index only has to hold every match).
    let low = 0;
    let high = log.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (log[mid][0] < bound - DAY_MS) low = mid + 1;
      else high = mid;
    }
    return new Set(log.slice(low).map(([, id]) => id));
  }

  private logUpdate(resource: WithId<Resource>): void {
    const at = Date.parse(resource.meta?.lastUpdated ?? '');
    if (Number.isNaN(at)) return;
    let log = this.updates.get(resource.resourceType);
    if (!log) this.updates.set(resource.resourceType, (log = []));
    // Kept in time order whatever the clock did, so the search above may bisect it.
    let at_ = log.length;
    while (at_ > 0 && log[at_ - 1][0] > at) at_--;
    log.splice(at_, 0, [at, resource.id]);
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

/** A day, the widest a date-only `_lastUpdated` bound reaches back (its time zone unknown). */
const DAY_MS = 86_400_000;

/** Reference and token parameters whose path needs no `resolve()` (too dear to index). */
function indexable(resourceType: string, code: string): boolean {
  const param = getSearchParameter(resourceType, code);
  return (
    (param?.type === 'reference' || param?.type === 'token') &&
    !!param.expression &&
    !param.expression.includes('resolve(')
  );
}

/** `Type/id` of a reference, whether relative, absolute or versioned; placeholders as they are. */
function referenceKey(reference: string): string | undefined {
  if (reference.startsWith('urn:')) return reference;
  const match = /([A-Za-z]+\/[^/]+)(\/_history\/[^/]+)?$/.exec(reference);
  return match?.[1];
}

/** The index key a filter value looks up; undefined when the index cannot answer it. */
function queryKey(resourceType: string, code: string, value: string): string | undefined {
  if (getSearchParameter(resourceType, code)?.type === 'reference') return referenceKey(value);
  value = value.toLowerCase();
  if (!value.includes('|')) return `|${value}`; // any system
  const [system, token] = value.split('|');
  if (!token) return undefined; // every value of a system: not indexed
  return system ? `${system}|${token}` : `|${token}`;
}

function addToIndex(index: Map<string, Set<string>>, code: string, resource: Resource): void {
  const keys: string[] = [];
  const param = getSearchParameter(resource.resourceType, code)!;
  for (const value of evalFhirPath(param.expression!, resource)) {
    if (param.type === 'reference') {
      const reference = (value as { reference?: string } | undefined)?.reference;
      const key = reference && referenceKey(reference);
      if (key) keys.push(key);
      continue;
    }
    // Tokens in lower case: the index may hold more than matches (the matcher decides), never less.
    for (const [system, token] of tokensOf(value)) {
      keys.push(`|${token}`.toLowerCase());
      if (system) keys.push(`${system}|${token}`.toLowerCase());
    }
  }
  for (const key of keys) {
    let ids = index.get(key);
    if (!ids) index.set(key, (ids = new Set()));
    ids.add(resource.id!);
  }
}

type Token = { system?: string; code?: string; value?: string };

/** The [system, code] pairs a token parameter's value holds: codings, identifiers or plain codes. */
function tokensOf(value: unknown): Array<[string | undefined, string]> {
  if (typeof value === 'string' || typeof value === 'boolean') return [[undefined, String(value)]];
  if (!value || typeof value !== 'object') return [];
  const concept = value as { coding?: Token[] } & Token;
  const tokens: Token[] = concept.coding ?? [concept];
  return tokens.flatMap((t) => {
    const token = t.code ?? t.value;
    return token === undefined ? [] : [[t.system, token] as [string | undefined, string]];
  });
}

/** The base's sort (JSON of the parameter's values, compared as text), each key computed once. */
function sortBy<T extends Resource>(resources: T[], code: string, descending?: boolean): T[] {
  const expression = resources[0] && getSearchParameter(resources[0].resourceType, code)?.expression;
  if (!expression) return resources;
  const keyed = resources.map((r) => ({ r, key: JSON.stringify(evalFhirPath(expression, r)) }));
  keyed.sort((a, b) => a.key.localeCompare(b.key) * (descending ? -1 : 1));
  return keyed.map((k) => k.r);
}

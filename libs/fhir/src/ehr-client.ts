import Client from 'fhir-kit-client';
import { SourceConfig } from '@aegle/config';
import { AccessTokenProvider, accessTokenProvider, TokenRequestError } from './outbound-auth';
import { EhrPacer, UNPACED } from './ehr-pacer';
import { childTraceparent, currentTraceparent } from '@aegle/telemetry';

/** What went wrong talking to an EHR, in the terms a retry policy needs. */
export class EhrRequestError extends Error {
  constructor(
    readonly status: number | undefined,
    readonly outcome: fhir4.OperationOutcome | undefined,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'EhrRequestError';
  }

  /** Network errors, timeouts, 408, 429 and 5xx: the EHR is unwell or busy. */
  get transient(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }

  /**
   * 409 and 412: someone changed what we read (a version-checked update lost a race). Another try
   * re-reads and succeeds; it says nothing about the EHR's health.
   */
  get conflict(): boolean {
    return this.status === 409 || this.status === 412;
  }

  /** 429 and 503: the EHR asks for fewer requests for now (often with a Retry-After). */
  get busy(): boolean {
    return this.status === 429 || this.status === 503;
  }

  /** Transient faults and conflicts are worth another try; other 4xx are not. */
  get retryable(): boolean {
    return this.transient || this.conflict;
  }
}

export type SearchParams = Record<string, string | number>;

export interface BatchSearch {
  resourceType: string;
  params: SearchParams;
}

export interface CreateResult<T extends fhir4.Resource> {
  resource: T;
  /** False when a conditional create found the resource already there. */
  created: boolean;
}

/** One EHR's FHIR API, as Aegle uses it. The only place that talks FHIR over HTTP. */
export interface EhrClient {
  readonly sourceId: string;
  read<T extends fhir4.Resource>(
    resourceType: string,
    id: string,
    versionId?: string,
  ): Promise<T | undefined>;
  search<T extends fhir4.Resource>(resourceType: string, params: SearchParams): Promise<T[]>;
  /** The EHR's CapabilityStatement (`GET [base]/metadata`), asked afresh. */
  capabilities(): Promise<fhir4.CapabilityStatement>;
  /** Whether the EHR's CapabilityStatement announces `batch`; asked once, then remembered. */
  supportsBatch(): Promise<boolean>;
  /**
   * Several searches in one `batch` Bundle, one round trip: each entry's matches (as {@link search}
   * returns them), or the error that entry met. Throws only when the batch itself fails.
   */
  searchBatch(searches: BatchSearch[]): Promise<Array<fhir4.Resource[] | EhrRequestError>>;
  createIfNoneExist<T extends fhir4.Resource>(resource: T, ifNoneExist: string): Promise<CreateResult<T>>;
  /**
   * Runs a transaction Bundle: every entry succeeds, or none does. Sent with `Prefer: return=minimal`:
   * the answer's entries carry their response (status, location, etag), their resources only where
   * the EHR ignores the preference.
   */
  transaction(bundle: fhir4.Bundle): Promise<fhir4.Bundle>;
  /** Updates a resource; with `ifMatch` (an ETag) only if nobody changed it since it was read. */
  update<T extends fhir4.Resource>(resource: T & { id: string }, ifMatch?: string): Promise<T>;
  /** A GET operation such as `Subscription/{id}/$events` or `Subscription/{id}/$status`. */
  operation<T extends fhir4.Resource>(
    target: { resourceType: string; id?: string },
    name: string,
    params: SearchParams,
  ): Promise<T>;
  create<T extends fhir4.Resource>(resource: T): Promise<T>;
  /** True when it was there to delete. */
  delete(resourceType: string, id: string): Promise<boolean>;
  /**
   * The Authorization header this source's requests carry, for the source's PACS (DICOMweb), which
   * the same authorization server usually guards; undefined when the source needs none.
   */
  authorization(): Promise<string | undefined>;
}

/** fhir-kit-client's error object; it puts the RESPONSE headers under `config.headers`. */
interface KitError {
  response?: { status?: number; data?: unknown };
  config?: { headers?: { get?(name: string): string | null } };
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds. */
function retryAfter(error: KitError): number | undefined {
  const header = error.config?.headers?.get?.('retry-after');
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

interface ErrorLike {
  name: string;
  message: string;
  cause?: { code?: unknown; message?: unknown };
}

/** An Error by shape: fetch's errors come from Node's own realm, where `instanceof Error` can fail. */
function errorLike(error: unknown): ErrorLike | undefined {
  const e = error as Partial<ErrorLike> | null;
  return typeof e === 'object' && e !== null && typeof e.message === 'string'
    ? { name: String(e.name ?? 'Error'), message: e.message, cause: e.cause }
    : undefined;
}

/** Why the EHR could not be reached: fetch's message and its network cause (no path, no data). */
export function networkReason(error: unknown): string {
  const e = errorLike(error);
  if (!e) return 'unknown error';
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer in time (${e.message})`;
  const detail =
    typeof e.cause?.message === 'string'
      ? e.cause.message
      : typeof e.cause?.code === 'string'
        ? e.cause.code
        : '';
  return detail ? `${e.message} (${detail})` : e.message;
}

/**
 * Normalises fhir-kit-client's plain-object errors and fetch's network errors into one type, named
 * by the EHR (`origin`: its source id and base URL) so an operator knows which one and where.
 */
function toEhrError(origin: string, operation: string, error: unknown): EhrRequestError {
  if (error instanceof EhrRequestError) return error;
  if (error instanceof TokenRequestError) {
    // The EHR's token endpoint: its 5xx and network faults are retried, its refusals are not.
    return new EhrRequestError(
      error.status,
      undefined,
      `${origin}: ${operation} not attempted: ${error.message}`,
    );
  }
  const kit = error as KitError;
  const status = kit?.response?.status;
  if (status !== undefined) {
    const data = kit.response?.data as fhir4.OperationOutcome | undefined;
    const outcome = data?.resourceType === 'OperationOutcome' ? data : undefined;
    return new EhrRequestError(
      status,
      outcome,
      `${origin}: ${operation} failed with HTTP ${status}`,
      retryAfter(kit),
    );
  }
  const e = errorLike(error);
  if (e && /fetch failed|network|socket|timeout|abort/i.test(`${e.name} ${e.message}`)) {
    return new EhrRequestError(
      undefined,
      undefined,
      `${origin} unreachable (${operation}): ${networkReason(e)}`,
    );
  }
  const reason = e ? `${e.name}: ${e.message}` : 'unknown error';
  return new EhrRequestError(undefined, undefined, `${origin}: ${operation} failed: ${reason}`);
}

/** How errors name an EHR: `EHR 'demo-ehr' at http://127.0.0.1:8080/fhir`. */
export function ehrOrigin(source: Pick<SourceConfig, 'id' | 'fhirBaseUrl'>): string {
  return `EHR '${source.id}' at ${source.fhirBaseUrl}`;
}

/** The matches of a searchset: not what `_include` added, nor OperationOutcome entries. */
function matchesOf(bundle: fhir4.Bundle, resourceType: string): fhir4.Resource[] {
  return (bundle.entry ?? [])
    .filter((entry) => entry.search?.mode !== 'include' && entry.search?.mode !== 'outcome')
    .map((entry) => entry.resource as fhir4.Resource)
    .filter((resource) => resource?.resourceType === resourceType);
}

function searchQuery(params: SearchParams): string {
  return new URLSearchParams(
    Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
}

/** {@link EhrClient} over fhir-kit-client, authenticated as the source's config says. */
export class FhirKitEhrClient implements EhrClient {
  readonly sourceId: string;
  private readonly client: Client;
  private readonly tokens: AccessTokenProvider;
  private batchSupport: Promise<boolean> | undefined;
  private readonly origin: string;

  constructor(
    private readonly source: SourceConfig,
    private readonly pacer: EhrPacer = UNPACED,
  ) {
    this.sourceId = source.id;
    this.origin = ehrOrigin(source);
    this.client = new Client({ baseUrl: source.fhirBaseUrl });
    this.tokens = accessTokenProvider(source.auth, source.fhirBaseUrl, source.requestTimeoutMs);
  }

  read<T extends fhir4.Resource>(
    resourceType: string,
    id: string,
    versionId?: string,
  ): Promise<T | undefined> {
    return this.send(`read ${resourceType}`, async (options) => {
      try {
        const resource = versionId
          ? await this.client.vread({ resourceType, id, version: versionId, options })
          : await this.client.read({ resourceType, id, options });
        return resource as T;
      } catch (error) {
        const failure = toEhrError(this.origin, `read ${resourceType}`, error);
        if (failure.status === 404 || failure.status === 410) return undefined;
        throw failure;
      }
    });
  }

  search<T extends fhir4.Resource>(resourceType: string, params: SearchParams): Promise<T[]> {
    return this.send(`search ${resourceType}`, async (options) => {
      const bundle = (await this.client.search({
        resourceType,
        searchParams: params,
        options,
      })) as fhir4.Bundle;
      return matchesOf(bundle, resourceType) as T[];
    });
  }

  capabilities(): Promise<fhir4.CapabilityStatement> {
    // Not capabilityStatement(): fhir-kit-client keeps its first answer, a failure included.
    return this.send(
      'read CapabilityStatement',
      async (options) => (await this.client.request('metadata', { options })) as fhir4.CapabilityStatement,
    );
  }

  supportsBatch(): Promise<boolean> {
    this.batchSupport ??= this.capabilities()
      .then((statement) =>
        (statement.rest ?? []).some((rest) => rest.interaction?.some((i) => i.code === 'batch')),
      )
      .catch(() => {
        this.batchSupport = undefined; // unknown: ask again next time, and meanwhile do without
        return false;
      });
    return this.batchSupport;
  }

  searchBatch(searches: BatchSearch[]): Promise<Array<fhir4.Resource[] | EhrRequestError>> {
    return this.send(
      'batch',
      async (options) => {
        const response = (await this.client.batch({
          body: {
            resourceType: 'Bundle',
            type: 'batch',
            entry: searches.map(({ resourceType, params }) => ({
              request: { method: 'GET', url: `${resourceType}?${searchQuery(params)}` },
            })),
          },
          options,
        })) as fhir4.Bundle;
        const entries = response.entry ?? [];
        if (entries.length !== searches.length) {
          throw new EhrRequestError(
            undefined,
            undefined,
            `${this.origin}: batch answered with a different number of entries`,
          );
        }
        // Searches refused 429/503 inside an accepted batch: the EHR is busy, as if it had refused the batch.
        const busy = entries.filter((entry) => /^(429|503)/.test(entry.response?.status ?? ''));
        if (busy.length > 0) {
          const status = Number(busy[0].response!.status.slice(0, 3));
          throw new EhrRequestError(
            status,
            undefined,
            `${this.origin}: batch: ${busy.length} of ${entries.length} searches answered HTTP ${status} (the EHR is busy)`,
          );
        }
        return entries.map((entry, i) => {
          const status = Number(/^\d{3}/.exec(entry.response?.status ?? '')?.[0]);
          const bundle = entry.resource as fhir4.Bundle | undefined;
          if (status >= 200 && status < 300 && bundle?.resourceType === 'Bundle') {
            return matchesOf(bundle, searches[i].resourceType);
          }
          const outcome = entry.resource?.resourceType === 'OperationOutcome' ? entry.resource : undefined;
          return new EhrRequestError(
            Number.isFinite(status) ? status : undefined,
            outcome as fhir4.OperationOutcome | undefined,
            `${this.origin}: search ${searches[i].resourceType} in a batch failed with HTTP ${status}`,
          );
        });
      },
      Math.max(1, searches.length),
    );
  }

  createIfNoneExist<T extends fhir4.Resource>(resource: T, ifNoneExist: string): Promise<CreateResult<T>> {
    return this.send(`create ${resource.resourceType}`, async (options) => {
      const response = await this.client.create({
        resourceType: resource.resourceType,
        body: resource,
        options: {
          ...options,
          headers: { ...options.headers, 'if-none-exist': ifNoneExist, prefer: 'return=representation' },
        },
      });
      const status = (Client.httpFor(response) as { response?: { status: number } }).response?.status;
      return { resource: response as T, created: status !== 200 };
    });
  }

  transaction(bundle: fhir4.Bundle): Promise<fhir4.Bundle> {
    return this.send('transaction', async (options) => {
      const response = await this.client.transaction({
        body: { ...bundle, type: 'transaction' as const },
        // What was written is read from each entry's status and location, not from the resources.
        options: { ...options, headers: { ...options.headers, prefer: 'return=minimal' } },
      });
      return response as fhir4.Bundle;
    });
  }

  update<T extends fhir4.Resource>(resource: T & { id: string }, ifMatch?: string): Promise<T> {
    return this.send(`update ${resource.resourceType}`, async (options) => {
      const response = await this.client.update({
        resourceType: resource.resourceType,
        id: resource.id,
        body: resource,
        options: { ...options, headers: { ...options.headers, ...(ifMatch ? { 'if-match': ifMatch } : {}) } },
      });
      return response as T;
    });
  }

  /**
   * One request with the source's credentials. A 401 with a token that can be renewed gets one
   * fresh token and one more try; every failure leaves as an {@link EhrRequestError}.
   */
  private async send<R>(
    operation: string,
    request: (options: RequestOptions) => Promise<R>,
    /** What the request costs of a request budget: a batch costs one per entry. */
    cost = 1,
  ): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      let options: RequestOptions | undefined;
      // The request's own timeout starts once the pacer lets it go, not while it waits its turn.
      const permit = await this.pacer.acquire(this.sourceId, this.source.pacing, cost);
      const started = performance.now();
      let failure: EhrRequestError | undefined;
      try {
        options = await this.requestOptions();
        return await request(options);
      } catch (error) {
        failure = toEhrError(this.origin, operation, error);
        if (failure.status === 401 && this.tokens.refreshable && attempt === 1 && options) {
          this.tokens.invalidate(options.headers.authorization);
          continue;
        }
        throw failure;
      } finally {
        permit.done({
          kind: operation,
          latencyMs: performance.now() - started,
          busy: failure?.busy ?? false,
          ...(failure?.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
        });
      }
    }
  }

  operation<T extends fhir4.Resource>(
    target: { resourceType: string; id?: string },
    name: string,
    params: SearchParams,
  ): Promise<T> {
    const input = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
    return this.send(
      `${target.resourceType} ${name}`,
      async (options) =>
        (await this.client.operation({ ...target, name, method: 'GET', input, options })) as T,
    );
  }

  create<T extends fhir4.Resource>(resource: T): Promise<T> {
    return this.send(
      `create ${resource.resourceType}`,
      async (options) =>
        (await this.client.create({
          resourceType: resource.resourceType,
          body: resource,
          options: { ...options, headers: { ...options.headers, prefer: 'return=representation' } },
        })) as T,
    );
  }

  delete(resourceType: string, id: string): Promise<boolean> {
    return this.send(`delete ${resourceType}`, async (options) => {
      try {
        await this.client.delete({ resourceType, id, options });
        return true;
      } catch (error) {
        const failure = toEhrError(this.origin, `delete ${resourceType}`, error);
        if (failure.status === 404 || failure.status === 410) return false;
        throw failure;
      }
    });
  }

  authorization(): Promise<string | undefined> {
    return this.tokens.authorization();
  }

  private async requestOptions(): Promise<RequestOptions> {
    const authorization = await this.tokens.authorization();
    return {
      signal: AbortSignal.timeout(this.source.requestTimeoutMs),
      headers: { ...(authorization ? { authorization } : {}), ...traceHeader() },
    };
  }
}

interface RequestOptions {
  signal: AbortSignal;
  headers: Record<string, string>;
}

/** Each request carries the current trace (a new span of it), so the EHR's logs can join ours. */
function traceHeader(): Record<string, string> {
  const trace = currentTraceparent();
  return trace ? { traceparent: childTraceparent(trace) } : {};
}

import Client from 'fhir-kit-client';
import { OutboundAuth, SourceConfig } from '@aegle/config';
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

  /** Network errors, timeouts, 408, 429 and 5xx are worth another try; other 4xx are not. */
  get retryable(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export type SearchParams = Record<string, string | number>;

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
  createIfNoneExist<T extends fhir4.Resource>(resource: T, ifNoneExist: string): Promise<CreateResult<T>>;
}

interface KitError {
  response?: { status?: number; data?: unknown };
  config?: { headers?: { get?(name: string): string | null } };
}

function retryAfter(error: KitError): number | undefined {
  const header = error.config?.headers?.get?.('retry-after');
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Normalises fhir-kit-client's plain-object errors and fetch's network errors into one type. */
function toEhrError(operation: string, error: unknown): EhrRequestError {
  if (error instanceof EhrRequestError) return error;
  const kit = error as KitError;
  const status = kit?.response?.status;
  if (status !== undefined) {
    const data = kit.response?.data as fhir4.OperationOutcome | undefined;
    const outcome = data?.resourceType === 'OperationOutcome' ? data : undefined;
    return new EhrRequestError(status, outcome, `${operation} failed with HTTP ${status}`, retryAfter(kit));
  }
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
  return new EhrRequestError(undefined, undefined, `${operation} failed: ${reason}`);
}

function authHeaders(auth: OutboundAuth): Record<string, string> {
  switch (auth.type) {
    case 'none':
      return {};
    case 'bearer':
      return { authorization: `Bearer ${auth.token.reveal()}` };
  }
}

/** {@link EhrClient} over fhir-kit-client. */
export class FhirKitEhrClient implements EhrClient {
  readonly sourceId: string;
  private readonly client: Client;

  constructor(private readonly source: SourceConfig) {
    this.sourceId = source.id;
    this.client = new Client({ baseUrl: source.fhirBaseUrl, customHeaders: authHeaders(source.auth) });
  }

  async read<T extends fhir4.Resource>(
    resourceType: string,
    id: string,
    versionId?: string,
  ): Promise<T | undefined> {
    try {
      const options = this.requestOptions();
      const resource = versionId
        ? await this.client.vread({ resourceType, id, version: versionId, options })
        : await this.client.read({ resourceType, id, options });
      return resource as T;
    } catch (error) {
      const failure = toEhrError(`read ${resourceType}`, error);
      if (failure.status === 404 || failure.status === 410) return undefined;
      throw failure;
    }
  }

  async search<T extends fhir4.Resource>(resourceType: string, params: SearchParams): Promise<T[]> {
    try {
      const bundle = (await this.client.search({
        resourceType,
        searchParams: params,
        options: this.requestOptions(),
      })) as fhir4.Bundle;
      return (bundle.entry ?? [])
        .filter((entry) => entry.search?.mode !== 'include' && entry.search?.mode !== 'outcome')
        .map((entry) => entry.resource as T)
        .filter((resource) => resource?.resourceType === resourceType);
    } catch (error) {
      throw toEhrError(`search ${resourceType}`, error);
    }
  }

  async createIfNoneExist<T extends fhir4.Resource>(
    resource: T,
    ifNoneExist: string,
  ): Promise<CreateResult<T>> {
    try {
      const base = this.requestOptions();
      const options = {
        ...base,
        headers: { ...base.headers, 'if-none-exist': ifNoneExist, prefer: 'return=representation' },
      };
      const response = await this.client.create({
        resourceType: resource.resourceType,
        body: resource,
        options,
      });
      const status = (Client.httpFor(response) as { response?: { status: number } }).response?.status;
      return { resource: response as T, created: status !== 200 };
    } catch (error) {
      throw toEhrError(`create ${resource.resourceType}`, error);
    }
  }

  /** Each request carries the current trace (a new span of it), so the EHR's logs can join ours. */
  private requestOptions(): { signal: AbortSignal; headers: Record<string, string> } {
    const trace = currentTraceparent();
    return {
      signal: AbortSignal.timeout(this.source.requestTimeoutMs),
      headers: trace ? { traceparent: childTraceparent(trace) } : {},
    };
  }
}

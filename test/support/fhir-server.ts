// A real FHIR R4 server over HTTP that stands in for the EHR in end-to-end tests.
// Medplum's FhirRouter + MemoryRepository do the FHIR work; this module adds the HTTP layer and
// the spec behaviour they lack (see the comments marked "Spec:").
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  OperationOutcomeError,
  badRequest,
  getSearchParameter,
  getStatus,
  isOk,
  isResourceType,
  matchesSearchRequest,
  normalizeOperationOutcome,
  parseSearchRequest,
  notFound,
  type WithId,
} from '@medplum/core';
import { FhirRouter, type HttpMethod, type MemoryRepository } from '@medplum/fhir-router';
import type {
  Bundle,
  CapabilityStatement,
  OperationOutcome,
  OperationOutcomeIssue,
  Resource,
} from '@medplum/fhirtypes';
import { isError, loadR4Definitions, r4ValidationIssues } from './fhir-validation';
import { TransactionalMemoryRepository } from './memory-fhir-repository';

export interface FhirServerOptions {
  /** Reject creates and updates that are not valid FHIR R4 with 400, as a strict EHR would. Default true. */
  validate?: boolean;
  /**
   * How a `transaction` Bundle is carried out: `atomic` (default: all entries or none), or
   * `non-atomic`, entry by entry like a batch, answering `200 transaction-response` whatever failed,
   * as Medplum does for a project without the `transaction-bundles` feature.
   */
  transactions?: 'atomic' | 'non-atomic';
  /** A slow EHR: every FHIR request (they are answered one at a time) takes at least this long. */
  serialDelayMs?: number;
  /**
   * A request quota, as an EHR gives each API client: past `requests` in a fixed window of
   * `windowMs`, a request (and a search inside a batch) is refused `429` with `Retry-After`.
   */
  quota?: { requests: number; windowMs: number };
  /**
   * Delivers rest-hook notifications as Medplum 5 does: for every `active` rest-hook Subscription
   * whose criteria match a resource written over HTTP, the full resource is POSTed to the endpoint
   * with `X-Medplum-Subscription`, `X-Medplum-Interaction`, the `channel.header` lines, and an
   * `X-Signature` when the Subscription carries Medplum's secret extension. `requested` ones never fire.
   */
  restHooks?: 'medplum';
}

/** Medplum's extension holding the secret it signs rest-hook deliveries with. */
export const MEDPLUM_SUBSCRIPTION_SECRET =
  'https://www.medplum.com/fhir/StructureDefinition/subscription-secret';

/** Decides a failure for one entry of a transaction carried out non-atomically (see `failEntries`). */
export type EntryFailure = (entry: fhir4.BundleEntry) => number | undefined;

/** One HTTP exchange, logged once the response status is known. */
export interface RecordedRequest {
  method: string;
  /** Request path as sent, query included, e.g. `/fhir/Observation?patient=Patient/1`. */
  path: string;
  headers: IncomingHttpHeaders;
  status: number;
}

export interface Traffic {
  requests: number;
  bytesIn: number;
  bytesOut: number;
  /** Requests by kind: method, the path's first segment (or the batch/transaction) and status. */
  kinds: Record<string, number>;
}

/** A batch or transaction Bundle as received: its text and the Prefer header it came with. */
export interface SampleBundle {
  body: string;
  prefer?: string;
}

export interface IncomingFhirRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
}

export interface HookResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Sees every request first; returning a response answers it instead of the FHIR server. */
export type RequestHook = (req: IncomingFhirRequest) => HookResponse | void | Promise<HookResponse | void>;

export interface TestFhirServer {
  /** `http://127.0.0.1:<port>/fhir` */
  readonly baseUrl: string;
  /** The backing store: seed or inspect it directly (no validation, no HTTP). */
  readonly repo: MemoryRepository;
  readonly requests: RecordedRequest[];
  /** Requests answered and body bytes in and out so far: what a client cost the server. */
  readonly traffic: Traffic;
  /** The next `count` requests get `status` with an OperationOutcome and `headers` (e.g. Retry-After). */
  failNext(count: number, status?: number, headers?: Record<string, string>): void;
  /** Installs (or with undefined, removes) the request hook. */
  onRequest(hook: RequestHook | undefined): void;
  /** With `transactions: 'non-atomic'`: the entries `decide` names a status for fail with it. */
  failEntries(decide: EntryFailure | undefined): void;
  /** The most requests it was answering at once, since it started. */
  readonly peakInFlight: number;
  /** The last batch and the last transaction Bundle received, to replay (bench/http-clients.ts). */
  readonly lastBundles: Partial<Record<'batch' | 'transaction', SampleBundle>>;
  /** Requests (and batch entries) the quota refused with 429. */
  readonly refusedByQuota: number;
  /** Requests (and batch entries) the quota served. */
  readonly servedByQuota: number;
  /** With `restHooks`: every delivery made, with the status the endpoint answered. */
  readonly deliveries: Array<{ subscription: string; status: number }>;
  /** Calls `listener` with each resource a request created or updated (after it is stored). */
  onWrite(listener: (resource: fhir4.Resource) => void): void;
  /** Transaction/batch Bundles go through the FHIR router; other Bundles and resources are stored as given. */
  seed(bundle: Bundle): Promise<WithId<Resource>[]>;
  seed<T extends Resource>(resources: T | T[]): Promise<WithId<T>[]>;
  /** Seeds resources typed with the `fhir4` types Aegle's own code uses. */
  seed<T extends fhir4.Resource>(resources: T | T[]): Promise<Array<T & { id: string }>>;
  close(): Promise<void>;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_total']);

/** Starts a server on a random port of 127.0.0.1. */
export async function startFhirServer(options: FhirServerOptions = {}): Promise<TestFhirServer> {
  loadR4Definitions(); // search and validation both need the R4 schema
  const server = new FhirTestServer(options);
  await server.listen();
  return server;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

class FhirTestServer implements TestFhirServer {
  baseUrl = '';
  readonly repo = new TransactionalMemoryRepository();
  readonly requests: RecordedRequest[] = [];
  readonly traffic: Traffic = { requests: 0, bytesIn: 0, bytesOut: 0, kinds: {} };
  readonly lastBundles: Partial<Record<'batch' | 'transaction', SampleBundle>> = {};
  private readonly router = new FhirRouter();
  private readonly http = createServer((req, res) => void this.handle(req, res));
  private readonly failures: { status: number; headers?: Record<string, string> }[] = [];
  private hook: RequestHook | undefined;
  private readonly writeListeners: Array<(resource: fhir4.Resource) => void> = [];
  // FHIR requests run one at a time so transactions can roll back and conditional creates are atomic.
  private queue: Promise<unknown> = Promise.resolve();
  private readonly validate: boolean;
  private entryFailure: EntryFailure | undefined;
  private inFlight = 0;
  peakInFlight = 0;
  refusedByQuota = 0;
  servedByQuota = 0;
  readonly deliveries: Array<{ subscription: string; status: number }> = [];
  private quotaWindow = { start: 0, used: 0 };

  constructor(private readonly options: FhirServerOptions) {
    this.validate = options.validate ?? true;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}/fhir`;
  }

  close(): Promise<void> {
    this.http.closeAllConnections(); // fetch keeps sockets alive, which would hold close() open
    return new Promise((resolve, reject) => this.http.close((err) => (err ? reject(err) : resolve())));
  }

  failNext(count: number, status = 503, headers?: Record<string, string>): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, headers });
  }

  onRequest(hook: RequestHook | undefined): void {
    this.hook = hook;
  }

  failEntries(decide: EntryFailure | undefined): void {
    this.entryFailure = decide;
  }

  onWrite(listener: (resource: fhir4.Resource) => void): void {
    this.writeListeners.push(listener);
  }

  private announce(written: fhir4.Resource, created = false): void {
    for (const listener of this.writeListeners) queueMicrotask(() => listener(written));
    if (this.options.restHooks === 'medplum') void this.deliver(written, created ? 'create' : 'update');
  }

  /** Medplum's rest-hook delivery: active Subscriptions only, signed when they carry a secret. */
  private async deliver(resource: fhir4.Resource, interaction: 'create' | 'update'): Promise<void> {
    if (resource.resourceType === 'Subscription') return;
    const subscriptions = (await this.repo.searchResources(
      parseSearchRequest('Subscription?status=active'),
    )) as unknown as fhir4.Subscription[];
    for (const subscription of subscriptions) {
      if (subscription.channel.type !== 'rest-hook' || !subscription.channel.endpoint) continue;
      const criteria = parseSearchRequest(subscription.criteria);
      if (!matchesSearchRequest(resource as Resource, criteria)) continue;
      const body = JSON.stringify(resource);
      const headers: Record<string, string> = {
        'content-type': 'application/fhir+json',
        'x-medplum-subscription': subscription.id!,
        'x-medplum-interaction': interaction,
      };
      for (const line of subscription.channel.header ?? []) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      const secret = subscription.extension?.find((e) => e.url === MEDPLUM_SUBSCRIPTION_SECRET)?.valueString;
      if (secret) headers['x-signature'] = createHmac('sha256', secret).update(body).digest('hex');
      const status = await fetch(subscription.channel.endpoint, { method: 'POST', headers, body }).then(
        (r) => r.status,
        () => 0,
      );
      this.deliveries.push({ subscription: subscription.id!, status });
    }
  }

  seed(input: Resource | Resource[]): Promise<WithId<Resource>[]> {
    return this.serialize(() => this.store(input));
  }

  private async store(input: Resource | Resource[]): Promise<WithId<Resource>[]> {
    if (
      !Array.isArray(input) &&
      input.resourceType === 'Bundle' &&
      /^(transaction|batch)$/.test(input.type ?? '')
    ) {
      const request = { method: 'POST' as const, url: '', pathname: '', body: input, params: {}, query: {} };
      const [result, response] = await this.router.handleRequest(
        { ...request, config: { transactions: true } },
        this.repo,
      );
      const entries = (response as Bundle | undefined)?.entry ?? [];
      const failed = entries.filter((e) => !e.response?.status.startsWith('2'));
      if (!isOk(result) || failed.length > 0) {
        throw new Error(`seed failed: ${JSON.stringify(isOk(result) ? failed : result)}`);
      }
      return entries.map((e) => e.resource as WithId<Resource>);
    }
    const resources = Array.isArray(input)
      ? input
      : input.resourceType === 'Bundle'
        ? (input.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []))
        : [input];
    const created: WithId<Resource>[] = [];
    for (const resource of resources) created.push(await this.repo.createResource(resource));
    return created;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    let reply: Reply;
    let kindOfBody: unknown;
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const received = Buffer.concat(chunks);
      this.traffic.bytesIn += received.length;
      const text = received.toString('utf8');
      const { body, valid } = parseJson(text);
      kindOfBody = (body as { type?: unknown } | undefined)?.type;
      if (method === 'POST' && (kindOfBody === 'batch' || kindOfBody === 'transaction')) {
        const prefer = req.headers.prefer as string | undefined;
        this.lastBundles[kindOfBody] = { body: text, ...(prefer ? { prefer } : {}) };
      }
      reply = await this.respond({ method, path, headers: req.headers, body }, valid);
    } catch (err) {
      reply = outcomeReply(normalizeOperationOutcome(err), 500);
    } finally {
      this.inFlight--;
    }
    this.requests.push({ method, path, headers: req.headers, status: reply.status });
    const text =
      reply.body === undefined
        ? ''
        : typeof reply.body === 'string'
          ? reply.body
          : JSON.stringify(reply.body);
    res.writeHead(reply.status, { ...(text ? { 'Content-Type': FHIR_JSON } : {}), ...reply.headers });
    res.end(text);
    this.traffic.requests++;
    this.traffic.bytesOut += Buffer.byteLength(text);
    const kind = `${method} ${requestKind(path, kindOfBody)} ${reply.status}`;
    this.traffic.kinds[kind] = (this.traffic.kinds[kind] ?? 0) + 1;
  }

  private async respond(req: IncomingFhirRequest, validJson: boolean): Promise<Reply> {
    const hooked = await this.hook?.(req);
    if (hooked) return hooked;
    const failure = this.failures.shift();
    if (failure) {
      const code = failure.status === 429 ? 'throttled' : failure.status >= 500 ? 'transient' : 'processing';
      const body = outcome(code, `Injected failure (HTTP ${failure.status})`);
      return { status: failure.status, body, headers: failure.headers };
    }
    const url = new URL(req.path, this.baseUrl);
    if (!/^\/fhir(\/|$)/.test(url.pathname)) return outcomeReply(notFound);
    if (!validJson) return outcomeReply(badRequest('Request body is not valid JSON'));
    const throttled = this.spendQuota();
    if (throttled) return throttled;
    return this.serialize(async () => {
      if (this.options.serialDelayMs) await sleep(this.options.serialDelayMs);
      const body = req.body as fhir4.Bundle | undefined;
      if (
        this.options.transactions === 'non-atomic' &&
        req.method === 'POST' &&
        body?.resourceType === 'Bundle' &&
        body.type === 'transaction'
      ) {
        return this.entriesAsPreferred(req, await this.nonAtomicTransaction(body));
      }
      return this.batchQuota(req) ?? this.fhir(req, url);
    });
  }

  /** Spends one request of the quota; past it, the 429 an EHR answers (with when to come back). */
  private spendQuota(): Reply | undefined {
    const quota = this.options.quota;
    if (!quota) return undefined;
    const now = Date.now();
    if (now - this.quotaWindow.start >= quota.windowMs) this.quotaWindow = { start: now, used: 0 };
    if (this.quotaWindow.used < quota.requests) {
      this.quotaWindow.used++;
      this.servedByQuota++;
      return undefined;
    }
    this.refusedByQuota++;
    const retryAfter = Math.max(1, Math.ceil((this.quotaWindow.start + quota.windowMs - now) / 1000));
    return {
      status: 429,
      body: outcome('throttled', 'Too many requests'),
      headers: { 'Retry-After': String(retryAfter) },
    };
  }

  /**
   * A batch's searches each cost a request of the quota, as Medplum counts them: past the quota, the
   * batch itself is accepted (200) but every refused entry answers 429, as Medplum's do.
   */
  private batchQuota(req: IncomingFhirRequest): Reply | undefined {
    const body = req.body as fhir4.Bundle | undefined;
    if (
      !this.options.quota ||
      req.method !== 'POST' ||
      body?.resourceType !== 'Bundle' ||
      body.type !== 'batch'
    ) {
      return undefined;
    }
    const entries = body.entry ?? [];
    const refused = entries.map((_, i) => i > 0 && this.spendQuota() !== undefined);
    if (!refused.some(Boolean)) return undefined;
    return {
      status: 200,
      body: {
        resourceType: 'Bundle',
        type: 'batch-response',
        entry: entries.map(() => ({
          response: { status: '429 Too Many Requests', outcome: outcome('throttled', 'Too many requests') },
        })),
      },
    };
  }

  /** Each entry on its own, in order, placeholders resolved as they are created; failures stay failures. */
  private async nonAtomicTransaction(bundle: fhir4.Bundle): Promise<Reply> {
    const resolved = new Map<string, string>();
    const resolve = <T>(value: T): T => {
      let text = JSON.stringify(value);
      for (const [placeholder, reference] of resolved) text = text.split(placeholder).join(reference);
      return JSON.parse(text) as T;
    };
    const entries: fhir4.BundleEntry[] = [];
    for (const entry of bundle.entry ?? []) {
      const { request } = entry;
      const failed = this.entryFailure?.(entry);
      if (!request || failed) {
        const status = failed ?? 400;
        const failure = outcome('exception', 'Entry failed') as fhir4.OperationOutcome;
        entries.push({ response: { status: String(status), outcome: failure } });
        continue;
      }
      const headers: IncomingHttpHeaders = { 'content-type': FHIR_JSON };
      if (request.ifNoneExist) headers['if-none-exist'] = resolve(request.ifNoneExist);
      if (request.ifMatch) headers['if-match'] = request.ifMatch;
      const path = `/fhir/${request.url}`;
      const reply = await this.fhir(
        { method: request.method, path, headers, body: entry.resource && resolve(entry.resource) },
        new URL(path, this.baseUrl),
      );
      const written = reply.body as fhir4.FhirResource | undefined;
      if (entry.fullUrl?.startsWith('urn:uuid:') && written?.id) {
        resolved.set(entry.fullUrl, `${written.resourceType}/${written.id}`);
      }
      entries.push({
        ...(reply.status < 300 && written ? { resource: written } : {}),
        response: {
          status: String(reply.status),
          ...(reply.status < 300 && written?.id
            ? { location: `${written.resourceType}/${written.id}/_history/${written.meta?.versionId}` }
            : {}),
          ...(reply.status >= 300 ? { outcome: written as fhir4.OperationOutcome } : {}),
        },
      });
    }
    return { status: 200, body: { resourceType: 'Bundle', type: 'transaction-response', entry: entries } };
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async fhir(req: IncomingFhirRequest, url: URL): Promise<Reply> {
    const method = req.method as HttpMethod;
    const segments = url.pathname.split('/').filter(Boolean).slice(1);
    const [type, id] = segments;
    const strict = !/handling=lenient/.test(String(req.headers.prefer));
    if (method === 'GET' && segments.join('/') === 'metadata') {
      return { status: 200, body: capabilityStatement() };
    }
    // Spec: an unknown type is a 404; the memory repository would accept any name.
    if (type && !type.startsWith('$') && !isResourceType(type)) {
      return outcomeReply(outcome('not-found', `Unknown resource type: ${type}`), 404);
    }

    const headers = { ...req.headers };
    let search = url.search;
    let body = req.body as Resource | undefined;
    try {
      if (method === 'GET' && segments.length === 1) {
        search = normalizeSearch(type, url.searchParams, strict, this.baseUrl);
      }
      if (headers['if-none-exist'] && type) {
        headers['if-none-exist'] = normalizeSearch(
          type,
          new URLSearchParams(String(headers['if-none-exist'])),
          true,
          this.baseUrl,
        ).slice(1);
      }
      if ((method === 'POST' && segments.length <= 1) || method === 'PUT') {
        if (!body || typeof body !== 'object' || !body.resourceType) {
          return outcomeReply(badRequest('Request body must be a FHIR resource'));
        }
        body = prepareWrite(body, method === 'POST' && segments.length === 1, this.baseUrl);
        if (this.validate) {
          const errors = r4ValidationIssues(body).filter(isError);
          if (errors.length > 0) return outcomeReply({ resourceType: 'OperationOutcome', issue: errors });
        }
      }
    } catch (err) {
      return outcomeReply(normalizeOperationOutcome(err));
    }

    // Spec: update-as-create answers 201, but the router says 200 either way.
    const existed =
      method === 'PUT' && id
        ? await this.repo.readResource(type, id).then(
            () => true,
            () => false,
          )
        : true;
    const [result, resource] = await this.router.handleRequest(
      {
        method,
        url: segments.join('/') + search,
        pathname: '',
        body,
        params: {},
        query: {},
        headers,
        config: { transactions: true },
      },
      this.repo,
    );
    if (!isOk(result)) return outcomeReply(result);
    const status = existed ? getStatus(result) : 201;
    const reply: Reply = { status, body: resource ?? result, headers: {} };
    const wrote = status === 201 || (method === 'PUT' && status === 200);
    if (wrote && resource && resource.resourceType !== 'Bundle')
      this.announce(resource as unknown as fhir4.Resource, status === 201);
    // What a transaction or batch created or updated is a write too (an EHR notifies for each).
    if (
      resource?.resourceType === 'Bundle' &&
      /-response$/.test((resource as { type?: string }).type ?? '')
    ) {
      for (const entry of (resource as unknown as fhir4.Bundle).entry ?? []) {
        if (entry.resource && /^20[01]/.test(entry.response?.status ?? ''))
          this.announce(entry.resource, entry.response!.status.startsWith('201'));
      }
    }
    if (resource?.resourceType === 'Bundle') decorateBundle(resource, url, this.baseUrl);
    if (resource?.id && resource.meta?.versionId && resource.resourceType !== 'Bundle') {
      reply.headers = { ETag: `W/"${resource.meta.versionId}"` };
      if (resource.meta.lastUpdated) {
        reply.headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
      }
      if (status === 201) {
        reply.headers.Location = `${this.baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
      }
    }
    // Spec: Prefer return=minimal | OperationOutcome (the router always returns the resource).
    const prefer = String(req.headers.prefer ?? '');
    if (resource?.resourceType === 'Bundle' && /-response$/.test(String(resource.type))) {
      return this.entriesAsPreferred(req, reply);
    }
    if (/return=minimal/.test(prefer)) reply.body = undefined;
    if (/return=OperationOutcome/.test(prefer)) reply.body = result;
    return reply;
  }

  /**
   * Spec: a batch or transaction's Prefer applies to its entries: with return=minimal each entry
   * keeps its response (status, location, etag) and loses its resource.
   */
  private entriesAsPreferred(req: IncomingFhirRequest, reply: Reply): Reply {
    const body = reply.body as fhir4.Bundle | undefined;
    if (!/return=minimal/.test(String(req.headers.prefer ?? ''))) return reply;
    if (body?.resourceType !== 'Bundle' || !/-response$/.test(body.type)) return reply;
    return {
      ...reply,
      body: { ...body, entry: body.entry?.map(({ resource: _resource, ...entry }) => entry) },
    };
  }
}

function parseJson(text: string): { body: unknown; valid: boolean } {
  if (!text.trim()) return { body: undefined, valid: true };
  try {
    return { body: JSON.parse(text), valid: true };
  } catch {
    return { body: text, valid: false };
  }
}

function outcome(code: OperationOutcomeIssue['code'], text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function outcomeReply(body: OperationOutcome, status = getStatus(body)): Reply {
  return { status, body };
}

/**
 * Spec: the server assigns id (on create), meta.versionId and meta.lastUpdated; MemoryRepository
 * would keep the client's. Transaction entries also get their If-None-Exist searches normalized.
 */
function prepareWrite(resource: Resource, isCreate: boolean, baseUrl: string): Resource {
  const clean = structuredClone(resource);
  if (isCreate) delete clean.id;
  if (clean.meta) {
    delete clean.meta.versionId;
    delete clean.meta.lastUpdated;
  }
  if (clean.resourceType === 'Bundle') {
    for (const entry of clean.entry ?? []) {
      const { request } = entry;
      if (entry.resource && request && /^(POST|PUT)$/.test(request.method)) {
        entry.resource = prepareWrite(entry.resource, false, baseUrl); // the router assigns create ids
      }
      // Spec: a batch's searches get the same reading of their parameters as a plain search.
      if (request?.method === 'GET' && request.url.includes('?')) {
        const [type, query] = request.url.split('?');
        request.url = type + normalizeSearch(type, new URLSearchParams(query), true, baseUrl);
      }
      if (request?.ifNoneExist) {
        const query = new URLSearchParams(request.ifNoneExist);
        request.ifNoneExist = normalizeSearch(request.url.split('?')[0], query, true, baseUrl).slice(1);
      }
    }
  }
  return clean;
}

/**
 * Returns the query string Medplum's matcher understands. Unknown or unsupported parameters
 * (e.g. _include, chains) are a 400 unless lenient, rather than silently matching nothing.
 */
function normalizeSearch(
  resourceType: string,
  params: URLSearchParams,
  strict: boolean,
  baseUrl: string,
): string {
  const out = new URLSearchParams();
  for (const [key, value] of params) {
    if (key === '_format' || key === '_pretty') continue; // always JSON
    if (RESULT_PARAMS.has(key)) {
      out.append(key, value);
      continue;
    }
    const [code, modifier] = key.split(':');
    const param = getSearchParameter(resourceType, code);
    if (!param) {
      if (strict) {
        throw new OperationOutcomeError(badRequest(`Unknown or unsupported search parameter: ${key}`, key));
      }
      continue;
    }
    if (param.type !== 'reference' || (modifier && !isResourceType(modifier))) {
      out.append(key, value);
      continue;
    }
    // Spec: `patient=123`, `subject:Patient=123` and absolute URLs all name a reference,
    // but Medplum only matches the literal `Type/id`; spell out every allowed target type.
    const targets = modifier ? [modifier] : (param.target ?? []);
    const refs = value.split(',').flatMap((v) => {
      if (v.startsWith('urn:uuid:')) return [v]; // Spec: a transaction's placeholder, resolved by the router
      const ref = v.startsWith(`${baseUrl}/`) ? v.slice(baseUrl.length + 1) : v;
      return ref.includes('/') ? [ref] : targets.map((t) => `${t}/${ref}`);
    });
    // Speed: Medplum evaluates `patient` as `subject.where(resolve() is Patient)`, resolving every
    // stored reference (seconds per search at a few thousand resources); with Patient/ literals,
    // `subject` matches exactly the same resources.
    const viaSubject =
      code === 'patient' &&
      /\.subject\.where\(resolve\(\) is Patient\)/.test(param.expression ?? '') &&
      refs.every((r) => r.startsWith('Patient/'));
    out.append(viaSubject ? 'subject' : code, refs.join(','));
  }
  const query = out.toString();
  return query ? `?${query}` : '';
}

/** Spec: search and history Bundles need fullUrl, search/request/response and paging links. */
function decorateBundle(bundle: Bundle, url: URL, baseUrl: string): void {
  const entries = bundle.entry ?? [];
  const count = Number(url.searchParams.get('_count') ?? NaN);
  const offset = Number(url.searchParams.get('_offset') ?? 0);
  const total = bundle.total ?? entries.length;
  entries.forEach((entry, i) => {
    const r = entry.resource;
    if (r?.id) entry.fullUrl = `${baseUrl}/${r.resourceType}/${r.id}`;
    if (bundle.type === 'searchset') entry.search = { mode: 'match' };
    if (bundle.type === 'history' && r?.id) {
      const first = offset + i === total - 1; // history is newest first, so the last version is the create
      entry.request = first
        ? { method: 'POST', url: r.resourceType }
        : { method: 'PUT', url: `${r.resourceType}/${r.id}` };
      entry.response = {
        status: first ? '201' : '200',
        etag: `W/"${r.meta?.versionId}"`,
        lastModified: r.meta?.lastUpdated,
      };
    }
  });
  if (bundle.type !== 'searchset' && bundle.type !== 'history') return;
  bundle.link = [{ relation: 'self', url: url.href }];
  if (count > 0 && offset + count < total) {
    const next = new URL(url);
    next.searchParams.set('_offset', String(offset + count));
    bundle.link.push({ relation: 'next', url: next.href });
  }
}

function capabilityStatement(): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }] }],
  };
}

/** `Observation`, `Observation/{id}`'s type, or a Bundle's type for a POST to the base. */
function requestKind(path: string, bundleType: unknown): string {
  const segment = /^\/fhir\/?([^/?]*)/.exec(path)?.[1] ?? path;
  return segment === '' && typeof bundleType === 'string' ? bundleType : segment || '/';
}

/**
 * The HTTP client alone: CPU per request of the EHR client's transport, with the batch and
 * transaction bodies the workers really sent (as the FHIR server last received them), replayed
 * against the same server one at a time, in the bench driver's process. Side by side:
 *
 * - Aegle's EhrClient (FhirKitEhrClient: fhir-kit-client with the source's auth, timeout,
 *   trace header, pacing and error mapping);
 * - fhir-kit-client alone, called as EhrClient calls it (per-request timeout signal and headers);
 * - the global fetch, and node:http with a keep-alive agent, each with the same body, headers,
 *   timeout signal and JSON work (stringify the body, parse the answer).
 *
 * What the first two cost above fetch and node:http is what the fixed library (and our layer over
 * it) spends per request. Rounds alternate the clients so drift in the machine's load spreads over
 * all of them; the median round is shown.
 */
import { Agent, request as httpRequest } from 'node:http';
import Client from 'fhir-kit-client';
import { loadConfig } from '@aegle/config';
import { BatchSearch, FhirKitEhrClient } from '@aegle/fhir';
import type { SampleBundle } from '../test/support/fhir-server';

const TIMEOUT_MS = 30_000;

type Send = (bundle: fhir4.Bundle) => Promise<unknown>;

interface ClientUnderTest {
  name: string;
  batch: Send;
  transaction: Send;
}

/** The clients, configured as the bench's source is: no outbound auth. */
function clients(baseUrl: string, prefer: string | undefined): ClientUnderTest[] {
  const source = loadConfig(
    {},
    { sources: [{ id: 'bench-http', fhirBaseUrl: baseUrl, inbound: { bearerToken: 'bench-http-unused' } }] },
  ).sources[0];
  const ehrClient = new FhirKitEhrClient(source);
  const kit = new Client({ baseUrl });
  const agent = new Agent({ keepAlive: true });
  const url = new URL(baseUrl);
  const headers = (extra: Record<string, string>) => ({
    accept: 'application/fhir+json',
    'content-type': 'application/fhir+json',
    ...extra,
  });
  const transactionHeaders: Record<string, string> = prefer ? { prefer } : {};

  const viaFetch: Send = async (bundle) => {
    const response = await fetch(baseUrl, {
      method: 'POST',
      headers: headers(bundle.type === 'transaction' ? transactionHeaders : {}),
      body: JSON.stringify(bundle),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return text ? JSON.parse(text) : undefined;
  };
  const viaHttp: Send = (bundle) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify(bundle);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          agent,
          signal: AbortSignal.timeout(TIMEOUT_MS),
          headers: {
            ...headers(bundle.type === 'transaction' ? transactionHeaders : {}),
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 300) return reject(new Error(`HTTP ${res.statusCode}`));
            const text = Buffer.concat(chunks).toString('utf8');
            resolve(text ? JSON.parse(text) : undefined);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const kitOptions = (extra: Record<string, string>) => ({
    signal: AbortSignal.timeout(TIMEOUT_MS),
    headers: extra,
  });

  return [
    {
      name: 'fhir-kit-client',
      batch: (body) => kit.batch({ body: { ...body, type: 'batch' }, options: kitOptions({}) }),
      transaction: (body) =>
        kit.transaction({ body: { ...body, type: 'transaction' }, options: kitOptions(transactionHeaders) }),
    },
    {
      name: 'EhrClient (ours, over it)',
      batch: (body) => ehrClient.searchBatch(searchesOf(body)),
      transaction: (body) => ehrClient.transaction(body),
    },
    { name: 'global fetch', batch: viaFetch, transaction: viaFetch },
    { name: 'node:http', batch: viaHttp, transaction: viaHttp },
  ];
}

/** A batch Bundle's searches as EhrClient.searchBatch takes them. */
function searchesOf(bundle: fhir4.Bundle): BatchSearch[] {
  return (bundle.entry ?? []).map((entry) => {
    const [resourceType, query = ''] = entry.request!.url.split('?');
    return { resourceType, params: Object.fromEntries(new URLSearchParams(query)) };
  });
}

/**
 * The Bundle without its If-Match preconditions: a supersession's version check holds once, and a
 * replay must succeed every time (the conditional creates find what the first one wrote).
 */
function replayable(bundle: fhir4.Bundle): fhir4.Bundle {
  return {
    ...bundle,
    entry: (bundle.entry ?? []).map(({ request, ...entry }) => {
      if (!request?.ifMatch) return { ...entry, request };
      const { ifMatch: _ifMatch, ...unchecked } = request;
      return { ...entry, request: unchecked };
    }),
  };
}

/** One request; a failure names the client and the status (fhir-kit-client throws plain objects). */
function replay(
  client: ClientUnderTest,
  kind: 'batch' | 'transaction',
  body: fhir4.Bundle,
): Promise<unknown> {
  return client[kind](body).catch((error: unknown) => {
    const e = error as { response?: { status?: number }; status?: number; message?: string };
    const why = e?.response?.status ?? e?.status ?? e?.message ?? 'unknown error';
    throw new Error(`${client.name}: ${kind} replay failed: ${why}`);
  });
}

/** Driver CPU (user + system) per call of `send`, in microseconds, over `count` sequential calls. */
async function cpuPerCall(send: () => Promise<unknown>, count: number): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) await send();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Lines of a table: µs of CPU per request for each client and body, and its ratio to
 * fhir-kit-client's, measured now. `samples` are the bodies the FHIR server last received.
 */
export async function httpClientCost(
  baseUrl: string,
  samples: Partial<Record<'batch' | 'transaction', SampleBundle>>,
  requests: number,
): Promise<string[]> {
  const kinds = (['batch', 'transaction'] as const).filter((kind) => samples[kind]);
  if (kinds.length === 0) return ['(the FHIR server received no batch or transaction to replay)'];
  const prefer = samples.transaction?.prefer;
  const under = clients(baseUrl, prefer);
  const rounds = 5;
  const perRound = Math.max(1, Math.ceil(requests / rounds));
  const results = new Map<string, number[]>();
  for (const kind of kinds) {
    const body = replayable(JSON.parse(samples[kind]!.body) as fhir4.Bundle);
    // Warm-up: connections, JIT.
    for (const client of under) for (let i = 0; i < 20; i++) await replay(client, kind, body);
    for (let round = 0; round < rounds; round++) {
      for (const client of under) {
        const key = `${kind}|${client.name}`;
        const spent = await cpuPerCall(() => replay(client, kind, body), perRound);
        results.set(key, [...(results.get(key) ?? []), spent]);
      }
    }
  }
  const lines = [
    `${'client'.padEnd(28)}${kinds.map((k) => `${k} µs/request`.padStart(24)).join('')}`,
    ...under.map(
      (client) =>
        client.name.padEnd(28) +
        kinds
          .map((kind) => {
            const mine = median(results.get(`${kind}|${client.name}`)!);
            const base = median(results.get(`${kind}|${under[0].name}`)!);
            return `${mine.toFixed(0).padStart(8)} (${(mine / base).toFixed(2)} ×)`.padStart(24);
          })
          .join(''),
    ),
    `  bodies: ${kinds.map((k) => `${k} ${samples[k]!.body.length} bytes${k === 'transaction' && prefer ? ` (Prefer: ${prefer})` : ''}`).join(', ')};` +
      ` ${rounds} alternating rounds of ${perRound} sequential requests each, median round; ratio to ${under[0].name}`,
  ];
  return lines;
}

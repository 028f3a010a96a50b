import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { notificationFixtures } from './support/notifications';

const TOKEN = 'fuzz-e2e-token';
const SEED = 0x5eed_a391;
const MUTANTS = 10_000;
const VALID_EVERY = 50;
const CONCURRENCY = 24;
const MAX_BODY = 16 * 1024;
/** What a client's mistake may be answered with; anything else (a 5xx above all) fails the test. */
const ALLOWED = new Set([200, 400, 401, 404, 413, 415, 422]);

/** mulberry32: a tiny seeded PRNG, so every run sends the same 10,000 notifications. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Mutant {
  method: string;
  path: string;
  contentType?: string;
  headers: Record<string, string>;
  body?: string;
}

const JUNK = [
  '\\u0000',
  '\\ud800',
  '"',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  'null',
  '-1',
  '1e999',
  '\u00e9',
  '\ufffd',
  ' ',
  '\\',
];
const CONTENT_TYPES = [
  'application/fhir+json',
  'application/json',
  'application/fhir+json; charset=utf-8',
  'text/plain',
  'application/xml',
  'application/fhir+json; fhirVersion=3.0',
  'application/json; charset=latin1',
  'multipart/form-data; boundary=x',
  undefined,
];
const VALUES: unknown[] = [
  null,
  0,
  -1,
  2 ** 53,
  1.5,
  '',
  'x',
  '12',
  'Patient/1',
  'urn:uuid:1',
  true,
  [],
  {},
  [[[[]]]],
  { reference: 5 },
];

/** Deterministic mutations of real notifications: byte-level, structural and protocol-level. */
function mutator(random: () => number, corpus: string[]) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const int = (n: number) => Math.floor(random() * n);

  function mutateJson(text: string): string {
    const value = JSON.parse(text) as unknown;
    const paths: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) {
        node.forEach((child, i) => {
          paths.push({ parent: node, key: i });
          walk(child);
        });
      } else if (node && typeof node === 'object') {
        for (const [k, child] of Object.entries(node)) {
          paths.push({ parent: node as Record<string, unknown>, key: k });
          walk(child);
        }
      }
    };
    walk(value);
    for (let i = 0, n = 1 + int(3); i < n && paths.length > 0; i++) {
      const { parent, key } = pick(paths);
      const op = int(3);
      if (op === 0) (parent as Record<string, unknown>)[key as string] = structuredClone(pick(VALUES));
      else if (op === 1 && !Array.isArray(parent)) delete parent[key as string];
      else
        (parent as Record<string, unknown>)[key as string] = String(
          (parent as Record<string, unknown>)[key as string],
        );
    }
    return JSON.stringify(value);
  }

  return (): Mutant => {
    let body: string | undefined = pick(corpus);
    switch (int(8)) {
      case 0:
        body = body.slice(0, int(body.length)); // truncated
        break;
      case 1: {
        const at = int(body.length);
        body = body.slice(0, at) + String.fromCharCode(int(128)) + body.slice(at + 1);
        break;
      }
      case 2: {
        const at = int(body.length);
        body = body.slice(0, at) + pick(JUNK) + body.slice(at);
        break;
      }
      case 3: {
        const from = int(body.length);
        body = body.slice(0, from) + body.slice(from + int(200));
        break;
      }
      case 4:
      case 5:
        body = mutateJson(body);
        break;
      case 6:
        body = random() < 0.5 ? undefined : body.repeat(2 + Math.ceil(MAX_BODY / body.length)); // empty, or too big
        break;
      default:
        break; // the original, with the protocol mutated below
    }
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
    if (random() < 0.03) delete headers.authorization;
    if (random() < 0.05)
      headers['x-medplum-deleted-resource'] = pick(['Observation/x', '', 'nonsense', '../../etc']);
    if (random() < 0.05) headers['x-medplum-interaction'] = pick(['create', 'update', 'delete', 'bogus']);
    const methodRoll = int(20);
    const method = methodRoll === 0 ? 'PUT' : methodRoll === 1 ? 'DELETE' : 'POST';
    const path =
      method === 'POST'
        ? pick(['/fhir/notify/fuzz', '/fhir/notify/fuzz', '/fhir/notify/fuzz', '/fhir/notify/unknown'])
        : pick([
            '/fhir/notify/fuzz/Observation/x1',
            '/fhir/notify/fuzz/bad type/x',
            '/fhir/notify/fuzz/Encounter/%00',
          ]);
    const contentType = random() < 0.7 ? 'application/fhir+json' : pick(CONTENT_TYPES);
    return { method, path, contentType, headers, body };
  };
}

describe('intake fuzz: 10,000 mutated and truncated notifications', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    ehr = await startFhirServer();
    aegle = await startAegle({
      intake: { maxBodyBytes: MAX_BODY },
      sources: [{ id: 'fuzz', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
    });
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  it('never answers 5xx, never crashes, and processes every valid event sent in between', async () => {
    const observation = JSON.stringify({
      resourceType: 'Observation',
      id: 'base',
      meta: { versionId: '1' },
      status: 'final',
      code: { text: 'x' },
    });
    const corpus = [...notificationFixtures().values(), observation];
    const next = mutator(prng(SEED), corpus);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const valid: string[] = [];
    let sent = 0;

    const sendOne = async (i: number) => {
      let request: Mutant;
      if (i % VALID_EVERY === 0) {
        const id = `valid-${i}`;
        valid.push(id);
        request = {
          method: 'POST',
          path: '/fhir/notify/fuzz',
          contentType: 'application/fhir+json',
          headers: { authorization: `Bearer ${TOKEN}` },
          body: observation.replace('"base"', `"${id}"`),
        };
      } else {
        request = next();
      }
      const response = await fetch(`${aegle.url}${request.path}`, {
        method: request.method,
        headers: {
          ...request.headers,
          ...(request.contentType ? { 'content-type': request.contentType } : {}),
        },
        body: request.body,
      });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (!ALLOWED.has(response.status) || (i % VALID_EVERY === 0 && response.status !== 200)) {
        failures.push(
          `#${i} ${request.method} ${request.path} → ${response.status}: ${request.body?.slice(0, 200)}`,
        );
      }
    };
    const total = MUTANTS + Math.ceil(MUTANTS / (VALID_EVERY - 1));
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < total) await sendOne(sent++);
      }),
    );

    expect(failures).toEqual([]);
    expect(total - valid.length).toBeGreaterThanOrEqual(MUTANTS);
    // Fuzzing must reach every refusal, not only 400s.
    for (const status of [200, 400, 401, 404, 413, 415, 422]) expect(statuses.get(status)).toBeGreaterThan(0);
    expect((await fetch(`${aegle.url}/health`)).status).toBe(200);

    await aegle.waitForIdle(90_000);
    const rows: Array<{ focus_id: string; status: string }> = await aegle.db.query(
      `SELECT focus_id, status FROM event WHERE source_id = 'fuzz' AND focus_id LIKE 'valid-%'`,
    );
    expect(rows.map((r) => r.focus_id).sort()).toEqual([...valid].sort());
    expect(rows.every((r) => r.status === 'routed')).toBe(true);
  }, 180_000);
});

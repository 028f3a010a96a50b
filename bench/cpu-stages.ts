/**
 * Where a worker's CPU goes, by pipeline stage, from V8 CPU profiles (bench/cpu-profile.js).
 *
 * A worker runs dozens of events at once, so a stage's CPU cannot be read as a process.cpuUsage()
 * delta around it (the deltas of concurrent stages overlap). A sample of the profile is charged
 * instead to the nearest frame of its stack, leaf first, that belongs to a stage's code; a sample
 * with none (a PostgreSQL reply being parsed, a Redis command, a socket write) goes to the client
 * library it is in, so the shared plumbing shows as what it is rather than blurring the stages.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Stages in pipeline order, each with the code (path fragments) that is its own. */
export const STAGES: Array<[string, RegExp]> = [
  [
    'routing',
    /(router\.processor|run-starter|plugin-registry|rollout|patient-of|event-enqueuer)\.ts$|\/(routing|catalogue)\//,
  ],
  [
    'inputs',
    /(ehr-patient-data|plugin-sdk\/src\/inputs|earlier-results)\.ts$|\/inputs\/|node_modules\/(fhirpath|@lhncbc)\//,
  ],
  [
    'inference',
    /\/libs\/inference\/|onnxruntime-node|\/plugins\/|plugin-sdk\/src\/(evaluate|harness)|\/inference\//,
  ],
  ['result building', /(results|resource-builders|result-transaction)\.ts$|\/results?\//],
  ['write-back', /(writeback\.processor|sequential-writes|circuit-breaker)\.ts$|\/write-?back\//],
  ['audit', /\/libs\/(audit|store)\//],
];

/** Where a sample with no stage frame goes: the library doing the work. */
export const PLUMBING: Array<[string, RegExp]> = [
  ['PostgreSQL client', /node_modules\/(pg|pg-protocol|pg-pool|typeorm)\//],
  [
    'queue (BullMQ, Redis)',
    /node_modules\/(bullmq|ioredis|@ioredis|redis-parser|cluster-key-slot|msgpackr)\//,
  ],
  [
    'EHR HTTP client',
    /node_modules\/(undici|fhir-kit-client)\/|internal\/deps\/undici|node:_?http|\/libs\/fhir\//,
  ],
  ['logging, metrics', /node_modules\/(pino|pino-std-serializers|nestjs-pino|prom-client|sonic-boom)\//],
  ['garbage collection', /^\(garbage collector\)$/],
];

/** The samples of each category (stages, then plumbing, then `other`), idle left out. */
export function stageSamples(path: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const nearest = (rules: Array<[string, RegExp]>) => {
    const memo = new Map<number, string | null>();
    const find = (id: number | undefined): string | null => {
      if (id === undefined) return null;
      if (memo.has(id)) return memo.get(id)!;
      const frame = byId.get(id)!.callFrame;
      const key = frame.url || frame.functionName;
      const own = rules.find(([, pattern]) => pattern.test(key))?.[0] ?? null;
      const found = own ?? find(parent.get(id));
      memo.set(id, found);
      return found;
    };
    return find;
  };
  const stageOf = nearest(STAGES);
  const plumbingOf = nearest(PLUMBING);

  const counts = new Map<string, number>();
  for (const id of profile.samples) {
    const name = byId.get(id)!.callFrame.functionName;
    if (name === '(idle)') continue;
    const category =
      stageOf(id) ?? plumbingOf(id) ?? (name === '(program)' ? 'V8 and native (program)' : 'other');
    counts.set(category, (counts.get(category) ?? 0) + 1);
  }
  return counts;
}

/** The categories in the order a table shows them. */
export const CATEGORIES = [
  ...STAGES.map(([name]) => name),
  ...PLUMBING.map(([name]) => name),
  'V8 and native (program)',
  'other',
];

/** The heaviest functions by self time (file:line), to show what a stage's cost is made of. */
export function topFrames(path: string, count: number): Array<{ frame: string; share: number }> {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (const id of profile.samples) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    total++;
    const file = url.replace(/^.*\/(node_modules\/)/, '$1').replace(/^.*\/(libs|apps|plugins)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, n]) => ({ frame, share: n / total }));
}

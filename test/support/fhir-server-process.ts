import { ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { SampleBundle, Traffic } from './fhir-server';

/** What the parent asks of the server process. */
export type FhirServerCommand =
  | { type: 'watch'; resourceType: string; code: string }
  | { type: 'unwatch' }
  | { type: 'traffic' }
  | { type: 'samples' }
  | { type: 'stop' };

/** What the server process tells the parent. */
export type FhirServerMessage =
  | { type: 'ready'; baseUrl: string }
  | { type: 'write'; resource: fhir4.Resource }
  | { type: 'traffic'; traffic: Traffic }
  | { type: 'samples'; samples: Partial<Record<'batch' | 'transaction', SampleBundle>> };

export interface FhirServerProcess {
  /** `http://127.0.0.1:<port>/fhir` */
  readonly baseUrl: string;
  readonly pid: number;
  /**
   * Calls `listener` with each resource of `resourceType` whose first code is `code` once a request
   * created or updated it: how a test sees results land without polling.
   */
  onWrite(resourceType: string, code: string, listener: (resource: fhir4.Resource) => void): void;
  /** Stops telling `onWrite` listeners of writes (replayed writes need no watching). */
  unwatch(): void;
  /** Requests and body bytes the server has answered and received so far. */
  traffic(): Promise<Traffic>;
  /** The last batch and transaction Bundle the server received. */
  samples(): Promise<Partial<Record<'batch' | 'transaction', SampleBundle>>>;
  close(): Promise<void>;
}

/**
 * The test FHIR server (test/support/fhir-server.ts) in a child process of its own: what a benchmark
 * or a long run needs, so that the driver's work and the server's do not slow each other down.
 * Seed it over HTTP (transaction Bundles), as any client would.
 */
export async function startFhirServerProcess(
  options: { validate?: boolean } = {},
): Promise<FhirServerProcess> {
  const child = fork(resolve(__dirname, 'fhir-server-main.ts'), [], {
    cwd: resolve(__dirname, '../..'),
    execArgv: ['-r', '@swc-node/register'],
    env: { ...process.env, FHIR_VALIDATE: String(options.validate ?? true) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const listeners: Array<{ key: string; listener: (resource: fhir4.Resource) => void }> = [];
  child.on('message', (message: FhirServerMessage) => {
    if (message.type !== 'write') return;
    const code = (message.resource as { code?: fhir4.CodeableConcept }).code?.coding?.[0]?.code;
    const key = `${message.resource.resourceType}|${code}`;
    for (const l of listeners) if (l.key === key) l.listener(message.resource);
  });
  const exited = once(child, 'exit');
  const ready = await Promise.race([
    new Promise<string>((done) =>
      child.on('message', (m: FhirServerMessage) => m.type === 'ready' && done(m.baseUrl)),
    ),
    exited.then(() => {
      throw new Error('the FHIR server process exited before it was ready');
    }),
  ]);
  return {
    baseUrl: ready,
    pid: child.pid!,
    onWrite(resourceType, code, listener) {
      listeners.push({ key: `${resourceType}|${code}`, listener });
      child.send({ type: 'watch', resourceType, code } satisfies FhirServerCommand);
    },
    unwatch() {
      child.send({ type: 'unwatch' } satisfies FhirServerCommand);
    },
    traffic: () => ask(child, 'traffic').then((m) => m.traffic),
    samples: () => ask(child, 'samples').then((m) => m.samples),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: 'stop' } satisfies FhirServerCommand);
      await exited;
    },
  };
}

/** Sends a command and waits for the server's answer of the same type. */
function ask<K extends 'traffic' | 'samples'>(
  child: ChildProcess,
  type: K,
): Promise<Extract<FhirServerMessage, { type: K }>> {
  const answer = new Promise<Extract<FhirServerMessage, { type: K }>>((done) => {
    const listener = (m: FhirServerMessage) => {
      if (m.type !== type) return;
      child.off('message', listener);
      done(m as Extract<FhirServerMessage, { type: K }>);
    };
    child.on('message', listener);
  });
  child.send({ type } satisfies FhirServerCommand);
  return answer;
}

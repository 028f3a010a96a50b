import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DicomWebClient } from '@aegle/imaging';
import { freePort } from './ports';

/** The Orthanc that scripts/ensure-orthanc.sh keeps running (npm test's pretest and .ci/run call it). */
export const ORTHANC_URL = process.env.ORTHANC_URL ?? 'http://127.0.0.1:18042';
const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

/** The shared test PACS's DICOMweb base; fails with what to run when it does not answer. */
export async function sharedOrthanc(): Promise<{ dicomWebBase: string; client: DicomWebClient }> {
  const dicomWebBase = `${ORTHANC_URL}/dicom-web`;
  const answer = await fetch(`${dicomWebBase}/studies`).catch(() => undefined);
  if (!answer?.ok) {
    throw new Error(
      `Orthanc (DICOMweb) does not answer at ${ORTHANC_URL}: run bash scripts/ensure-orthanc.sh`,
    );
  }
  return { dicomWebBase, client: dicomWebClient(dicomWebBase) };
}

export function dicomWebClient(dicomWebBase: string): DicomWebClient {
  return new DicomWebClient(dicomWebBase, { timeoutMs: 10_000, maxBytes: 64 * 1024 * 1024 });
}

/** A private Orthanc child process a test can stop and start again on the same port and storage. */
export interface OrthancProcess {
  dicomWebBase: string;
  client: DicomWebClient;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its storage. */
  close(): Promise<void>;
}

export async function startOrthancProcess(): Promise<OrthancProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'aegle-orthanc-'));
  const configFile = join(dir, 'orthanc.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      Name: 'aegle-test-pacs-private',
      StorageDirectory: dir,
      IndexDirectory: dir,
      HttpPort: port,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      DicomServerEnabled: false,
      HttpThreadsCount: 4,
      SaveJobs: false,
      Plugins: [DICOMWEB_PLUGIN],
      DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false },
    }),
  );
  const dicomWebBase = `http://127.0.0.1:${port}/dicom-web`;
  let child: ChildProcess | undefined;
  const up = async () => (await fetch(`${dicomWebBase}/studies`).catch(() => undefined))?.ok === true;
  const orthanc: OrthancProcess = {
    dicomWebBase,
    client: dicomWebClient(dicomWebBase),
    async start() {
      if (child && child.exitCode === null) return;
      const started = spawn('Orthanc', [configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = started;
      let output = '';
      started.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
      for (let i = 0; i < 100; i++) {
        if (started.exitCode !== null) throw new Error(`Orthanc exited (${started.exitCode}): ${output}`);
        if (await up()) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`Orthanc did not answer on ${dicomWebBase}: ${output}`);
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      child = undefined;
    },
    async close() {
      await orthanc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await orthanc.start();
  return orthanc;
}

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { RowInputs, TensorCodec, TensorMetadata } from './tensor-codec';

/** Operators by the execution provider that ran them, e.g. `{ CUDAExecutionProvider: ['MatMul'] }`. */
export type NodePlacement = Record<string, string[]>;

/**
 * Runs one request through a profiled session and reads, from onnxruntime's own profile, which
 * provider executed each operator: the proof that CUDA really ran, since onnxruntime silently
 * assigns the operators CUDA does not support to the CPU.
 */
export async function profileNodePlacement(
  bytes: Uint8Array,
  executionProviders: ort.InferenceSession.SessionOptions['executionProviders'],
  row?: RowInputs,
): Promise<NodePlacement> {
  const dir = await mkdtemp(join(tmpdir(), 'aegle-profile-'));
  try {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders,
      enableProfiling: true,
      profileFilePrefix: join(dir, 'run'),
    });
    try {
      const meta = (list: readonly ort.InferenceSession.ValueMetadata[]): TensorMetadata[] =>
        list.map((m) =>
          m.isTensor
            ? { name: m.name, type: m.type, shape: [...m.shape] }
            : { name: m.name, type: '', shape: [] },
        );
      const codec = new TensorCodec('profile', meta(session.inputMetadata), meta(session.outputMetadata));
      await session.run(codec.pack([row ?? codec.zeroRow()]));
      session.endProfiling();
    } finally {
      await session.release();
    }
    const [file] = await readdir(dir);
    const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as Array<{
      cat: string;
      args?: { op_name?: string; provider?: string };
    }>;
    const placement: NodePlacement = {};
    for (const event of events) {
      if (event.cat !== 'Node' || !event.args?.provider) continue;
      (placement[event.args.provider] ??= []).push(event.args.op_name ?? '?');
    }
    return placement;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

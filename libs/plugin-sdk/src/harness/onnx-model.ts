// The offline harness's door to onnxruntime: vendors validate and run plugins without Aegle's
// engine, so the SDK opens the model itself (lazily, so importing the SDK loads no native code).
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ModelMetadata, TensorMetadata } from '../loader';

export interface OpenModel extends ModelMetadata {
  /** Runs one row (batch of one). */
  run(row: Record<string, number[]>): Promise<Record<string, number[]>>;
  release(): Promise<void>;
}

export async function openModel(bytes: Uint8Array): Promise<OpenModel> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  const inputs = session.inputMetadata.map(toMetadata);
  const outputs = session.outputMetadata.map(toMetadata);
  return {
    inputs,
    outputs,
    async run(row) {
      const feeds: Record<string, Tensor> = {};
      for (const input of inputs) {
        const values = row[input.name] ?? [];
        const dims = [1, ...input.shape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1))];
        const data =
          input.type === 'int64'
            ? BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)))
            : input.type === 'float32'
              ? Float32Array.from(values)
              : Float64Array.from(values);
        feeds[input.name] = new ort.Tensor(input.type as 'float64', data as Float64Array, dims);
      }
      const results = await session.run(feeds);
      return Object.fromEntries(
        outputs.map((o) => [o.name, Array.from(results[o.name].data as ArrayLike<number | bigint>, Number)]),
      );
    },
    release: () => session.release(),
  };
}

function toMetadata(m: InferenceSession.ValueMetadata): TensorMetadata {
  return m.isTensor
    ? { name: m.name, type: m.type, shape: [...m.shape] }
    : { name: m.name, type: 'non-tensor', shape: [] };
}

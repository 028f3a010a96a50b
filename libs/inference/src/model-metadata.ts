import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { UnsupportedModelError } from './errors';
import type { TensorMetadata } from './tensor-codec';

/** ONNX element types as onnxruntime-node names them. */
const ELEMENT_TYPES: Partial<Record<number, string>> = {
  [onnx.TensorProto.DataType.FLOAT]: 'float32',
  [onnx.TensorProto.DataType.DOUBLE]: 'float64',
  [onnx.TensorProto.DataType.FLOAT16]: 'float16',
  [onnx.TensorProto.DataType.INT8]: 'int8',
  [onnx.TensorProto.DataType.INT16]: 'int16',
  [onnx.TensorProto.DataType.INT32]: 'int32',
  [onnx.TensorProto.DataType.INT64]: 'int64',
  [onnx.TensorProto.DataType.UINT8]: 'uint8',
  [onnx.TensorProto.DataType.UINT16]: 'uint16',
  [onnx.TensorProto.DataType.UINT32]: 'uint32',
  [onnx.TensorProto.DataType.UINT64]: 'uint64',
  [onnx.TensorProto.DataType.BOOL]: 'bool',
  [onnx.TensorProto.DataType.STRING]: 'string',
};

/**
 * A model's inputs and outputs read from the ONNX file itself, without creating a session: what an
 * api-only process needs to check a plugin against its model, at none of the memory a session of a
 * large model takes. The result is what onnxruntime-node's session metadata says (a symbolic
 * dimension by its name, an unknown one as -1; initialisers listed as graph inputs left out).
 */
export function readModelMetadata(
  key: string,
  bytes: Uint8Array,
): { inputs: TensorMetadata[]; outputs: TensorMetadata[] } {
  let graph: onnx.IGraphProto | null | undefined;
  try {
    graph = onnx.ModelProto.decode(bytes).graph;
  } catch (error) {
    throw new UnsupportedModelError(`${key}: not an ONNX model (${(error as Error).message})`);
  }
  if (!graph) throw new UnsupportedModelError(`${key}: the ONNX model has no graph`);
  const constants = new Set((graph.initializer ?? []).map((t) => t.name));
  return {
    inputs: (graph.input ?? []).filter((v) => !constants.has(v.name)).map(toMetadata),
    outputs: (graph.output ?? []).map(toMetadata),
  };
}

function toMetadata(value: onnx.IValueInfoProto): TensorMetadata {
  const name = value.name ?? '';
  const tensor = value.type?.tensorType;
  if (!tensor) return { name, type: 'non-tensor', shape: [] };
  return {
    name,
    type:
      ELEMENT_TYPES[tensor.elemType ?? onnx.TensorProto.DataType.UNDEFINED] ?? `onnx type ${tensor.elemType}`,
    shape: (tensor.shape?.dim ?? []).map(dimension),
  };
}

/** A fixed size, a symbolic name, or -1 when the file says neither. int64 sizes decode as Long. */
function dimension(d: onnx.TensorShapeProto.IDimension): number | string {
  const { dimParam, dimValue } = d as onnx.TensorShapeProto.Dimension;
  if (dimParam) return dimParam;
  if (dimValue === null || dimValue === undefined) return -1;
  return typeof dimValue === 'number' ? dimValue : Number(dimValue.toString());
}

/** The same description from a live session, as onnxruntime-node gives it. */
export function sessionMetadata(values: readonly ort.InferenceSession.ValueMetadata[]): TensorMetadata[] {
  return values.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape] }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

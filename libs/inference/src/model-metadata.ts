import type { TensorMetadata } from './tensor-codec';

/** A model's inputs and outputs as its ONNX file declares them, the way a session reports them. */
export interface OnnxSignature {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

// onnx.proto field numbers (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto).
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const TENSOR_NAME = 8;
const VALUE_NAME = 1;
const VALUE_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_ELEM_TYPE = 1;
const TENSOR_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_VALUE = 1;
const DIM_PARAM = 2;

/** TensorProto.DataType as onnxruntime names it. */
const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};

/**
 * Reads a model's signature from its ONNX bytes without creating a session, so that a process that
 * never runs the model (the API, a worker for the other run queue) can still check a manifest
 * against it. Only the graph's inputs, outputs and initializer names are decoded; weights are skipped.
 * Inputs backed by an initializer are not inputs a caller feeds, as onnxruntime reports them.
 */
export function readOnnxSignature(bytes: Uint8Array): OnnxSignature {
  const graph = fields(bytes).find((f) => f.field === MODEL_GRAPH)?.bytes;
  if (!graph) throw new Error('not an ONNX model: it has no graph');
  const initializers = new Set<string>();
  const inputs: TensorMetadata[] = [];
  const outputs: TensorMetadata[] = [];
  for (const f of fields(graph)) {
    if (f.field === GRAPH_INITIALIZER && f.bytes) initializers.add(stringField(f.bytes, TENSOR_NAME));
    else if (f.field === GRAPH_INPUT && f.bytes) inputs.push(valueInfo(f.bytes));
    else if (f.field === GRAPH_OUTPUT && f.bytes) outputs.push(valueInfo(f.bytes));
  }
  return { inputs: inputs.filter((i) => !initializers.has(i.name)), outputs };
}

function valueInfo(bytes: Uint8Array): TensorMetadata {
  const name = stringField(bytes, VALUE_NAME);
  const type = fields(bytes).find((f) => f.field === VALUE_TYPE)?.bytes;
  const tensor = type && fields(type).find((f) => f.field === TYPE_TENSOR)?.bytes;
  if (!tensor) return { name, type: 'non-tensor', shape: [] };
  const parts = fields(tensor);
  const elem = Number(parts.find((f) => f.field === TENSOR_ELEM_TYPE)?.value ?? 0);
  const shape = parts.find((f) => f.field === TENSOR_SHAPE)?.bytes;
  const dims = shape ? fields(shape).filter((f) => f.field === SHAPE_DIM && f.bytes) : [];
  return {
    name,
    type: ELEMENT_TYPES[elem] ?? `element type ${elem}`,
    shape: dims.map(({ bytes: dim }) => {
      const d = fields(dim!);
      const value = d.find((f) => f.field === DIM_VALUE)?.value;
      if (value !== undefined) return Number(value);
      const param = d.find((f) => f.field === DIM_PARAM)?.bytes;
      return param ? text(param) : -1;
    }),
  };
}

interface Field {
  field: number;
  /** Varint fields. */
  value?: bigint;
  /** Length-delimited fields (messages, strings, bytes): a view, not a copy. */
  bytes?: Uint8Array;
}

/** The top-level fields of one protobuf message. */
function fields(bytes: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= bytes.length) throw new Error('truncated ONNX model');
      const b = bytes[at++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const field = Number(key >> 3n);
    switch (Number(key & 7n)) {
      case 0:
        out.push({ field, value: varint() });
        break;
      case 1:
        at += 8;
        break;
      case 2: {
        const length = Number(varint());
        if (at + length > bytes.length) throw new Error('truncated ONNX model');
        out.push({ field, bytes: bytes.subarray(at, at + length) });
        at += length;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        throw new Error('not an ONNX model: unknown protobuf wire type');
    }
  }
  return out;
}

function stringField(bytes: Uint8Array, field: number): string {
  const value = fields(bytes).find((f) => f.field === field)?.bytes;
  return value ? text(value) : '';
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

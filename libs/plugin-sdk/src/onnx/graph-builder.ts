import { onnx } from 'onnx-proto';

/** Element types the reference models use; the values are ONNX `TensorProto.DataType` codes. */
export type ElementType = 'float32' | 'float64' | 'int64';

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
};

/** A dimension: a fixed size, or a name for a dynamic one (the batch dimension, usually `"N"`). */
export type Dim = number | string;

export type AttributeValue = number | number[] | string;

/**
 * Builds a small ONNX model from TypeScript, deterministically: the same calls give the same bytes,
 * so a plugin's build script can be re-run in CI and compared with the committed `model.onnx`.
 *
 * Vendors use it from a plugin's `build-model.ts` to turn published coefficients or trained weights
 * into an ONNX graph without Python.
 */
export class OnnxGraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly metadata: onnx.IStringStringEntryProto[] = [];
  private counter = 0;

  constructor(
    private readonly graphName: string,
    private readonly opsetVersion = 13,
  ) {}

  input(name: string, type: ElementType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElementType, dims: Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /**
   * A constant tensor (an initializer). Values are stored exactly: float64 as doubles, int64 as
   * integers. A Float32Array (trained weights: millions of values) is stored as raw bytes.
   */
  constant(
    type: ElementType,
    dims: number[],
    values: readonly number[] | Float32Array,
    name = this.fresh('const'),
  ): string {
    const tensor: onnx.ITensorProto = { name, dims, dataType: DATA_TYPE[type] };
    if (values instanceof Float32Array) {
      if (type !== 'float32') throw new Error(`constant ${name}: a Float32Array is float32, not ${type}`);
      tensor.rawData = littleEndianBytes(values);
    } else if (type === 'float64') tensor.doubleData = [...values];
    else if (type === 'float32') tensor.floatData = [...values];
    else tensor.int64Data = values.map((v) => Math.trunc(v));
    this.initializers.push(tensor);
    return name;
  }

  /** Adds one node and returns the name of its (first) output. */
  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    output?: string,
  ): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      opType,
      input: inputs,
      output: [out],
      name: this.fresh(`${opType}_node`),
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return out;
  }

  /** Free-text metadata stored in the model (for example the source publication). */
  meta(key: string, value: string): this {
    this.metadata.push({ key, value });
    return this;
  }

  build(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'aegle',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: this.opsetVersion }],
      metadataProps: this.metadata,
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    const problem = onnx.ModelProto.verify(model);
    if (problem) throw new Error(`invalid ONNX model ${this.graphName}: ${problem}`);
    return onnx.ModelProto.encode(model).finish();
  }

  private fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }
}

/** ONNX raw_data is little-endian whatever the host; copy, so the tensor owns its bytes. */
function littleEndianBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}

function valueInfo(name: string, type: ElementType, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  if (typeof value === 'string') {
    return { name, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(value, 'utf8') };
  }
  if (Array.isArray(value)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: value };
  if (Number.isInteger(value)) return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}

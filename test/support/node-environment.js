// Jest test environment for specs that run onnxruntime-node.
//
// Jest gives each test file its own realm with its own typed-array constructors, while the native
// onnxruntime binding creates output tensors' data in Node's main realm; onnxruntime-common's
// `instanceof Float64Array` check then fails ("A float64 tensor's data must be type of ...",
// jestjs/jest#11864). Sharing the main realm's typed-array constructors with the test realm fixes it.
// Every Jest project uses it (jest.config.js).
const { TestEnvironment } = require('jest-environment-node');

const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];

class OnnxRuntimeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const TypedArray of TYPED_ARRAYS) this.global[TypedArray.name] = TypedArray;
  }
}

module.exports = OnnxRuntimeEnvironment;

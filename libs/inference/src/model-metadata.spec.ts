import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { lookupModel, ragged, weightedSumModel } from '../test/test-models';
import { readOnnxSignature } from './model-metadata';

// Every committed plugin model: the tabular ones and the PyTorch-exported CNN.
const pluginModels = readdirSync('plugins')
  .flatMap((name) => [
    join('plugins', name, 'model.onnx'),
    join('plugins', name, 'model', 'pneumonia-cxr-cnn.onnx'),
  ])
  .filter((path) => existsSync(path));

/** What onnxruntime itself reports for the model, the reference the reader must match. */
async function sessionSignature(bytes: Uint8Array) {
  const session = await ort.InferenceSession.create(bytes);
  const meta = (m: ort.InferenceSession.ValueMetadata) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape] }
      : { name: m.name, type: 'non-tensor', shape: [] };
  try {
    return { inputs: session.inputMetadata.map(meta), outputs: session.outputMetadata.map(meta) };
  } finally {
    await session.release();
  }
}

describe('readOnnxSignature', () => {
  it.each(pluginModels)('reads %s as onnxruntime does', async (path) => {
    const bytes = readFileSync(path);
    expect(readOnnxSignature(bytes)).toEqual(await sessionSignature(bytes));
  });

  it.each([
    ['two outputs', weightedSumModel([1, 2, 3])],
    ['a fixed batch', weightedSumModel([1, 2, 3], 4)],
    ['int64 input', lookupModel()],
    ['symbolic dims', ragged()],
  ])('reads a model with %s as onnxruntime does', async (_name, bytes) => {
    expect(readOnnxSignature(bytes)).toEqual(await sessionSignature(bytes));
  });

  it('refuses bytes that are not an ONNX model', () => {
    expect(() => readOnnxSignature(Buffer.from('not a model at all'))).toThrow(/ONNX/);
  });
});

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { lookupModel, ragged, weightedSumModel } from '../test/test-models';
import { UnsupportedModelError } from './errors';
import { readModelMetadata, sessionMetadata } from './model-metadata';

const PLUGINS = join(__dirname, '..', '..', '..', 'plugins');

/** Every committed plugin model (tabular float64, and the float32 CNN exported by PyTorch). */
function pluginModels(): Array<[string, Uint8Array]> {
  return readdirSync(PLUGINS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) =>
      [join(PLUGINS, entry.name, 'model.onnx'), join(PLUGINS, entry.name, 'model', 'pneumonia-cxr-cnn.onnx')]
        .filter(existsSync)
        .map((file): [string, Uint8Array] => [entry.name, readFileSync(file)]),
    );
}

describe('readModelMetadata', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['weighted sum', weightedSumModel([1, 2, 3])],
    ['int64 lookup', lookupModel()],
    ['ragged', ragged()],
    ['fixed batch', weightedSumModel([1, 2, 3], 4)],
    ...pluginModels(),
  ];

  it('covers the PyTorch-exported CNN and the tabular plugins', () => {
    expect(cases.map(([name]) => name)).toEqual(
      expect.arrayContaining(['diagnosis-pneumonia-cxr', 'prognosis-ascvd-pce', 'diagnosis-breast-fna-wdbc']),
    );
  });

  it.each(cases)('reads %s exactly as an onnxruntime session describes it', async (_, bytes) => {
    const session = await ort.InferenceSession.create(bytes);
    const fromFile = readModelMetadata('m@1', bytes);
    expect(fromFile.inputs).toEqual(sessionMetadata(session.inputMetadata));
    expect(fromFile.outputs).toEqual(sessionMetadata(session.outputMetadata));
    await session.release();
  });

  it('refuses bytes that are not an ONNX model', () => {
    expect(() => readModelMetadata('junk@1', Uint8Array.from([0xff, 0xff, 0xff]))).toThrow(
      UnsupportedModelError,
    );
    expect(() => readModelMetadata('empty@1', new Uint8Array(0))).toThrow(
      'empty@1: the ONNX model has no graph',
    );
  });
});

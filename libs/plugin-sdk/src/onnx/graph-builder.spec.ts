import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from './graph-builder';

describe('OnnxGraphBuilder', () => {
  it('stores a Float32Array constant as raw bytes that onnxruntime reads back exactly', async () => {
    const weights = Float32Array.from([0.1, -2.5, 3e-8, 1e30, -4.25, 7]); // [3, 2]
    const g = new OnnxGraphBuilder('raw-weights');
    const x = g.input('x', 'float32', ['N', 3]);
    g.op('MatMul', [x, g.constant('float32', [3, 2], weights)], {}, 'y');
    g.output('y', 'float32', ['N', 2]);
    const session = await ort.InferenceSession.create(g.build());
    const { y } = await session.run({
      x: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 0, 0, 1]), [2, 3]),
    });
    // Row 1 picks the first row of the weights, row 2 the last.
    expect(Array.from(y.data as Float32Array)).toEqual([weights[0], weights[1], weights[4], weights[5]]);
    await session.release();
  });

  it('gives the same model from a Float32Array as from the same numbers in an array', async () => {
    const run = async (values: readonly number[] | Float32Array) => {
      const g = new OnnxGraphBuilder('same');
      const x = g.input('x', 'float32', ['N', 2]);
      g.op('Add', [x, g.constant('float32', [2], values, 'c')], {}, 'y');
      g.output('y', 'float32', ['N', 2]);
      const session = await ort.InferenceSession.create(g.build());
      const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1]), [1, 2]) });
      await session.release();
      return Array.from(y.data as Float32Array);
    };
    expect(await run(Float32Array.from([1.5, -2]))).toEqual([2.5, -1]);
    expect(await run([1.5, -2])).toEqual([2.5, -1]);
  });

  it('refuses a Float32Array for a float64 constant', () => {
    const g = new OnnxGraphBuilder('wrong');
    expect(() => g.constant('float64', [1], Float32Array.from([1]), 'w')).toThrow(
      'constant w: a Float32Array is float32, not float64',
    );
  });
});

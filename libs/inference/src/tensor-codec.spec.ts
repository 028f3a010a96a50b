import * as ort from 'onnxruntime-node';
import { TensorCodec } from './tensor-codec';

const wide = Array.from({ length: 20 }, (_, j) => j);
const codec = new TensorCodec(
  'codec@1',
  [
    { name: 'narrow', type: 'float64', shape: ['N', 3] },
    { name: 'wide', type: 'float32', shape: ['N', 20] },
  ],
  [
    { name: 'score', type: 'float64', shape: ['N', 1] },
    { name: 'pair', type: 'float64', shape: ['N', 2] },
  ],
);
const row = (k: number) => ({ narrow: [k, k + 0.5, NaN], wide: wide.map((j) => k * 100 + j) });

describe('TensorCodec', () => {
  it('packs rows into reused buffers, full batches and partial ones alike', () => {
    const buffers = codec.allocate(2);
    const first = codec.pack([row(1), row(2)], buffers);
    expect(first.narrow.dims).toEqual([2, 3]);
    expect(Array.from(first.narrow.data as Float64Array)).toEqual([1, 1.5, NaN, 2, 2.5, NaN]);
    expect(first.wide.dims).toEqual([2, 20]);
    expect(Array.from(first.wide.data as Float32Array).slice(18, 22)).toEqual([118, 119, 200, 201]);

    const again = codec.pack([row(3), row(4)], buffers);
    expect(Array.from(again.narrow.data as Float64Array)).toEqual([3, 3.5, NaN, 4, 4.5, NaN]);
    expect(Array.from(again.wide.data as Float32Array).slice(20, 22)).toEqual([400, 401]);

    const partial = codec.pack([row(5)], buffers);
    expect(partial.narrow.dims).toEqual([1, 3]);
    expect(Array.from(partial.narrow.data as Float64Array)).toEqual([5, 5.5, NaN]);
    expect(partial.wide.data).toHaveLength(20);
  });

  it('splits each output back into the rows, one answer per row', () => {
    const results = {
      score: new ort.Tensor('float64', Float64Array.from([0.1, 0.2]), [2, 1]),
      pair: new ort.Tensor('float64', Float64Array.from([1, 2, 3, 4]), [2, 2]),
    };
    expect(codec.split(results, 2, (outputs) => ({ outputs }))).toEqual([
      { outputs: { score: [0.1], pair: [1, 2] } },
      { outputs: { score: [0.2], pair: [3, 4] } },
    ]);
    expect(() => codec.split(results, 3, (outputs) => outputs)).toThrow('not a multiple of the 3 rows');
  });
});

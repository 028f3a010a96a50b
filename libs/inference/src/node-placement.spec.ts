import { weightedSumModel } from '../test/test-models';
import { profileNodePlacement } from './node-placement';

describe('profileNodePlacement', () => {
  it('reads from onnxruntime’s profile which provider ran each operator', async () => {
    const placement = await profileNodePlacement(weightedSumModel([1, 2, 3]), ['cpu'], { x: [1, 2, 3] });
    expect(Object.keys(placement)).toEqual(['CPUExecutionProvider']);
    expect(placement.CPUExecutionProvider.sort()).toEqual(['MatMul', 'Mul']);
  });
});

import { loadConfig, AegleConfig } from '@aegle/config';
import { OnnxGraphBuilder } from '@aegle/plugin-sdk/onnx';

/** `y = x · weights` for x [N,3] (float64), plus `twice = 2x` [N,3]: two outputs of different widths. */
export function weightedSumModel(
  weights: [number, number, number],
  batch: number | string = 'N',
): Uint8Array {
  const g = new OnnxGraphBuilder('weighted-sum');
  const x = g.input('x', 'float64', [batch, 3]);
  g.op('MatMul', [x, g.constant('float64', [3, 1], weights)], {}, g.output('y', 'float64', [batch, 1]));
  g.op('Mul', [x, g.constant('float64', [], [2])], {}, g.output('twice', 'float64', [batch, 3]));
  return g.build();
}

/** Looks values up by an int64 index [N,1] in [10, 20, 30]; an index outside 0–2 fails the whole run. */
export function lookupModel(offset = 0): Uint8Array {
  const g = new OnnxGraphBuilder('lookup');
  const index = g.input('index', 'int64', ['N', 1]);
  const shifted = offset === 0 ? index : g.op('Add', [index, g.constant('int64', [], [offset])]);
  g.op(
    'Gather',
    [g.constant('float64', [3], [10, 20, 30]), shifted],
    { axis: 0 },
    g.output('value', 'float64', ['N', 1]),
  );
  return g.build();
}

/** A model whose second dimension is dynamic: Aegle cannot know how many values a row has. */
export function ragged(): Uint8Array {
  const g = new OnnxGraphBuilder('ragged');
  const x = g.input('x', 'float64', ['N', 'K']);
  g.op('Identity', [x], {}, g.output('y', 'float64', ['N', 'K']));
  return g.build();
}

/** A real configuration, parsed like Aegle's own, with `inference` settings (and env) for the test. */
export function configWith(
  inference: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
): AegleConfig {
  return loadConfig(env, {
    sources: [
      { id: 'test', fhirBaseUrl: 'http://127.0.0.1/fhir', inbound: { bearerToken: 'test-only-token' } },
    ],
    inference,
  });
}

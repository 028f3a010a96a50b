/**
 * A compute-bound model for `bench:inference` and `gpu:check`: the ResNet-50 architecture (He et al.
 * 2016, bottleneck blocks [3, 4, 6, 3], 23.5 M parameters) on one grey 112 × 112 image (a quarter
 * of the usual 224² pixels, so that a batch of 64 runs in seconds on one core), one sigmoid output,
 * with seeded random weights. Batch normalisation is folded into the convolutions, as an exported
 * trained network has it. Built with the SDK's graph builder (no Python), written once to a
 * git-ignored cache (`.aegle/bench-models/`, about 94 MB) and rebuilt when this file changes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxGraphBuilder } from '@aegle/plugin-sdk/onnx';

export const RESNET50_NAME = 'resnet50-random-112';
export const RESNET50_INPUT: [number, number, number] = [1, 112, 112];
const SEED = 50;
const CACHE_DIR = join(__dirname, '..', '.aegle', 'bench-models');

/** Mulberry32, then Box–Muller: the same weights on every machine. */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function buildResnet50(): Uint8Array {
  const g = new OnnxGraphBuilder('resnet50_random', 13);
  const normal = gaussian(SEED);
  let params = 0;
  /** Convolution with He-initialised weights (scaled by `gain`) and a zero bias (the folded BN). */
  const conv = (x: string, cin: number, cout: number, k: number, stride: number, gain = 1) => {
    const std = gain * Math.sqrt(2 / (cin * k * k));
    const weights = new Float32Array(cout * cin * k * k).map(() => normal() * std);
    params += weights.length + cout;
    const w = g.constant('float32', [cout, cin, k, k], weights);
    const b = g.constant('float32', [cout], new Float32Array(cout));
    const pad = (k - 1) >> 1;
    return g.op('Conv', [x, w, b], {
      kernel_shape: [k, k],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
    });
  };
  const relu = (x: string) => g.op('Relu', [x]);

  const image = g.input('image', 'float32', ['N', ...RESNET50_INPUT]);
  const scaled = g.op('Div', [image, g.constant('float32', [], [255])]);
  let x = relu(conv(scaled, 1, 64, 7, 2));
  x = g.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  let channels = 64;
  [3, 4, 6, 3].forEach((blocks, stage) => {
    const width = 64 * 2 ** stage;
    for (let block = 0; block < blocks; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      let y = relu(conv(x, channels, width, 1, 1));
      y = relu(conv(y, width, width, 3, stride));
      // A small last layer per block keeps activations bounded through 16 residual additions.
      y = conv(y, width, width * 4, 1, 1, 0.2);
      const shortcut = block === 0 ? conv(x, channels, width * 4, 1, stride) : x;
      x = relu(g.op('Add', [y, shortcut]));
      channels = width * 4;
    }
  });
  const pooled = g.op('Flatten', [g.op('GlobalAveragePool', [x])]);
  const fc = new Float32Array(channels).map(() => normal() * Math.sqrt(1 / channels));
  params += channels + 1;
  const logit = g.op(
    'Gemm',
    [pooled, g.constant('float32', [1, channels], fc), g.constant('float32', [1], [0])],
    {
      transB: 1,
    },
  );
  g.op('Sigmoid', [logit], {}, 'probability');
  g.output('probability', 'float32', ['N', 1]);
  g.meta(
    'description',
    `ResNet-50 architecture, seeded random weights (seed ${SEED}), ${params} parameters: a benchmark load, not a model`,
  );
  return g.build();
}

/** The model's bytes, built on first use and cached under `.aegle/bench-models/`. */
export function resnet50Bytes(): Uint8Array {
  const source = createHash('sha256').update(readFileSync(__filename)).digest('hex').slice(0, 12);
  const file = join(CACHE_DIR, `${RESNET50_NAME}-${source}.onnx`);
  if (existsSync(file)) return readFileSync(file);
  process.stdout.write(`building ${RESNET50_NAME} (once) into ${file} …\n`);
  const bytes = buildResnet50();
  mkdirSync(CACHE_DIR, { recursive: true });
  // One version at a time: an older build is 94 MB of nothing.
  for (const old of readdirSync(CACHE_DIR).filter((f) => f.startsWith(`${RESNET50_NAME}-`))) {
    rmSync(join(CACHE_DIR, old));
  }
  writeFileSync(`${file}.tmp`, bytes);
  renameSync(`${file}.tmp`, file);
  return bytes;
}

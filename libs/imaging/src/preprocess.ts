import { GreyImage } from './grey-image';

/** How a decoded image becomes a model's input tensor; declared in the plugin manifest. */
export interface ImagePreprocessing {
  /**
   * VOI (values of interest): `dicom` applies the file's first window (center/width, with its VOI
   * LUT function) when it has one, else maps the full range of its values; `full-range` always maps
   * the full range the stored bits allow (after the Modality LUT).
   */
  voi: 'dicom' | 'full-range';
  /** The grey levels the model was trained on, e.g. [0, 255]: the VOI maps onto this range. */
  range: [number, number];
  /** The model's input size; the image is resized to it with `interpolation`. */
  width: number;
  height: number;
  /**
   * The training pipeline's resampling: `area` averages the source pixels each output pixel covers
   * (box filter, as PIL's BOX or OpenCV's INTER_AREA), `bilinear` samples at pixel centres (half-
   * pixel offset, as PIL and OpenCV), `nearest` takes the nearest pixel.
   */
  interpolation: 'area' | 'bilinear' | 'nearest';
}

/**
 * DICOM's grayscale pipeline, then the resize: Modality LUT (rescale slope and intercept), VOI LUT
 * (window or full range) onto the training range, MONOCHROME1 inverted so high is bright, resampled
 * to the model's size. Returns one channel row-major (NCHW with N = C = 1). An 8-bit MONOCHROME2
 * image without rescale or window, already at the model's size, comes out exactly as stored.
 */
export function preprocessImage(image: GreyImage, spec: ImagePreprocessing): Float32Array {
  const [low, high] = spec.range;
  const grey = new Float64Array(image.stored.length);
  const slope = image.rescaleSlope;
  const intercept = image.rescaleIntercept;
  const window = spec.voi === 'dicom' ? image.window : undefined;
  if (window) {
    for (let i = 0; i < grey.length; i++) {
      grey[i] = applyWindow(image.stored[i] * slope + intercept, window, low, high);
    }
  } else {
    const minStored = image.signed ? -(2 ** (image.bitsStored - 1)) : 0;
    const maxStored = image.signed ? 2 ** (image.bitsStored - 1) - 1 : 2 ** image.bitsStored - 1;
    const ends = [minStored * slope + intercept, maxStored * slope + intercept];
    const from = Math.min(...ends);
    const to = Math.max(...ends);
    const identity = from === low && to === high && slope === 1 && intercept === 0;
    for (let i = 0; i < grey.length; i++) {
      const value = image.stored[i] * slope + intercept;
      // Multiply before dividing, so integer grey levels map exactly.
      grey[i] = identity ? value : ((value - from) * (high - low)) / (to - from) + low;
    }
  }
  if (image.photometric === 'MONOCHROME1') {
    for (let i = 0; i < grey.length; i++) grey[i] = high + low - grey[i];
  }
  return Float32Array.from(
    resample(grey, image.columns, image.rows, spec.width, spec.height, spec.interpolation),
  );
}

/** PS3.3 C.11.2.1.2: the VOI LUT functions, from a modality value to [low, high]. */
function applyWindow(x: number, window: NonNullable<GreyImage['window']>, low: number, high: number): number {
  const { center: c, width: w } = window;
  const span = high - low;
  switch (window.function) {
    case 'SIGMOID':
      return span / (1 + Math.exp((-4 * (x - c)) / w)) + low;
    case 'LINEAR_EXACT':
      if (x <= c - w / 2) return low;
      if (x > c + w / 2) return high;
      return ((x - c) / w + 0.5) * span + low;
    case 'LINEAR':
      if (w <= 1) return x <= c - 0.5 ? low : high;
      if (x <= c - 0.5 - (w - 1) / 2) return low;
      if (x > c - 0.5 + (w - 1) / 2) return high;
      return ((x - (c - 0.5)) / (w - 1) + 0.5) * span + low;
  }
}

function resample(
  source: Float64Array,
  width: number,
  height: number,
  toWidth: number,
  toHeight: number,
  interpolation: ImagePreprocessing['interpolation'],
): Float64Array {
  if (width === toWidth && height === toHeight) return source;
  const out = new Float64Array(toWidth * toHeight);
  if (interpolation === 'area') {
    const xs = boxWeights(width, toWidth);
    const ys = boxWeights(height, toHeight);
    for (let oy = 0; oy < toHeight; oy++) {
      for (let ox = 0; ox < toWidth; ox++) {
        let sum = 0;
        for (const [sy, wy] of ys[oy]) {
          const row = sy * width;
          for (const [sx, wx] of xs[ox]) sum += source[row + sx] * wy * wx;
        }
        out[oy * toWidth + ox] = sum;
      }
    }
    return out;
  }
  const scaleX = width / toWidth;
  const scaleY = height / toHeight;
  for (let oy = 0; oy < toHeight; oy++) {
    const fy = clamp((oy + 0.5) * scaleY - 0.5, 0, height - 1);
    for (let ox = 0; ox < toWidth; ox++) {
      const fx = clamp((ox + 0.5) * scaleX - 0.5, 0, width - 1);
      if (interpolation === 'nearest') {
        out[oy * toWidth + ox] = source[Math.round(fy) * width + Math.round(fx)];
        continue;
      }
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const x1 = Math.min(x0 + 1, width - 1);
      const y1 = Math.min(y0 + 1, height - 1);
      const dx = fx - x0;
      const dy = fy - y0;
      const top = source[y0 * width + x0] * (1 - dx) + source[y0 * width + x1] * dx;
      const bottom = source[y1 * width + x0] * (1 - dx) + source[y1 * width + x1] * dx;
      out[oy * toWidth + ox] = top * (1 - dy) + bottom * dy;
    }
  }
  return out;
}

/** For each output pixel, the source pixels it covers and the share of it each one covers. */
function boxWeights(size: number, toSize: number): Array<Array<[number, number]>> {
  const scale = size / toSize;
  return Array.from({ length: toSize }, (_, o) => {
    const start = o * scale;
    const end = start + scale;
    const weights: Array<[number, number]> = [];
    for (let s = Math.floor(start); s < Math.min(Math.ceil(end), size); s++) {
      const overlap = Math.min(end, s + 1) - Math.max(start, s);
      if (overlap > 0) weights.push([s, overlap / scale]);
    }
    return weights;
  });
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

import { GreyImage } from './grey-image';
import { ImagePreprocessing, preprocessImage } from './preprocess';

const SPEC: ImagePreprocessing = {
  voi: 'dicom',
  range: [0, 255],
  width: 2,
  height: 2,
  interpolation: 'area',
};

function image(stored: number[], size: [number, number], rest: Partial<GreyImage> = {}): GreyImage {
  return {
    format: 'dicom',
    columns: size[0],
    rows: size[1],
    stored: Float64Array.from(stored),
    bitsStored: 8,
    signed: false,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    photometric: 'MONOCHROME2',
    header: {},
    ...rest,
  };
}

describe('preprocessImage: the DICOM grayscale pipeline, then the resize', () => {
  it('leaves an 8-bit MONOCHROME2 image without rescale or window, at the model size, exactly as stored', () => {
    const stored = Array.from({ length: 28 * 28 }, (_, i) => (i * 37) % 256);
    const out = preprocessImage(image(stored, [28, 28]), { ...SPEC, width: 28, height: 28 });
    expect(out).toEqual(Float32Array.from(stored));
  });

  it('maps the full range of 12-bit values onto the training range when there is no window', () => {
    const out = preprocessImage(image([0, 4095, 2048, 1365], [2, 2], { bitsStored: 12 }), SPEC);
    expect(Array.from(out)).toEqual([0, 255, expect.closeTo(127.53, 2), expect.closeTo(85, 2)]);
  });

  it('applies the Modality LUT then the window (PS3.3 LINEAR), clamping outside it', () => {
    // Stored 0..300 with slope 2, intercept -100: modality values -100..500; window 200 ± 100.
    const out = preprocessImage(
      image([0, 50, 150, 300], [2, 2], {
        bitsStored: 16,
        rescaleSlope: 2,
        rescaleIntercept: -100,
        window: { center: 200, width: 201, function: 'LINEAR' },
      }),
      SPEC,
    );
    // -100 → below, 0 → below, 200 → centre, 500 → above.
    expect(Array.from(out)).toEqual([0, 0, expect.closeTo(128.14, 1), 255]);
  });

  it('ignores the window when the manifest asks for the full range', () => {
    const out = preprocessImage(
      image([0, 255, 0, 255], [2, 2], { window: { center: 10, width: 2, function: 'LINEAR' } }),
      { ...SPEC, voi: 'full-range' },
    );
    expect(Array.from(out)).toEqual([0, 255, 0, 255]);
  });

  it('inverts MONOCHROME1, so high values are bright as the model learnt', () => {
    const out = preprocessImage(image([0, 255, 100, 10], [2, 2], { photometric: 'MONOCHROME1' }), SPEC);
    expect(Array.from(out)).toEqual([255, 0, 155, 245]);
  });

  it('averages the pixels each output pixel covers (area), and samples centres (bilinear)', () => {
    const stored = [0, 0, 100, 100, 0, 0, 100, 100, 40, 40, 200, 200, 40, 40, 200, 200];
    expect(Array.from(preprocessImage(image(stored, [4, 4]), SPEC))).toEqual([0, 100, 40, 200]);
    const ramp = image([0, 30, 60, 90, 0, 30, 60, 90, 0, 30, 60, 90, 0, 30, 60, 90], [4, 4]);
    expect(Array.from(preprocessImage(ramp, { ...SPEC, interpolation: 'bilinear' }))).toEqual([
      15, 75, 15, 75,
    ]);
    expect(Array.from(preprocessImage(ramp, { ...SPEC, interpolation: 'nearest' }))).toEqual([
      30, 90, 30, 90,
    ]);
  });
});

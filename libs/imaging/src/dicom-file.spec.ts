import { readDicom, wrapAsDicom } from './dicom-file';
import { ImageRefusal } from './image-refusal';

const pixels = Uint8Array.from({ length: 28 * 28 }, (_, i) => i % 256);
const wrapping = {
  studyInstanceUid: '2.25.1',
  seriesInstanceUid: '2.25.2',
  sopInstanceUid: '2.25.3',
  modality: 'CR',
  bodyPart: 'CHEST',
  viewPosition: 'PA',
  patientId: 'p',
};
const dicom = () => wrapAsDicom(pixels, { rows: 28, columns: 28 }, wrapping);

/** The file with its first occurrence of `from` (same length) replaced, as a sender might have written it. */
function patched(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const copy = Buffer.from(bytes);
  const at = copy.indexOf(from, 0, 'latin1');
  copy.write(to, at, 'latin1');
  return new Uint8Array(copy);
}

describe('readDicom', () => {
  it('reads back what wrapAsDicom wrote: pixels and the attributes that decide them', () => {
    const image = readDicom(dicom(), { maxPixels: 1_000_000 });
    expect(Array.from(image.stored)).toEqual(Array.from(pixels));
    expect(image).toMatchObject({
      format: 'dicom',
      rows: 28,
      columns: 28,
      bitsStored: 8,
      signed: false,
      rescaleSlope: 1,
      rescaleIntercept: 0,
      photometric: 'MONOCHROME2',
      header: {
        modality: 'CR',
        bodyPart: 'CHEST',
        viewPosition: 'PA',
        transferSyntax: '1.2.840.10008.1.2.1',
      },
    });
    expect(image.window).toBeUndefined();
  });

  it('keeps the window and MONOCHROME1 a file declares', () => {
    const bytes = wrapAsDicom(
      pixels,
      { rows: 28, columns: 28 },
      {
        ...wrapping,
        photometric: 'MONOCHROME1',
        window: { center: 128, width: 256 },
      },
    );
    expect(readDicom(bytes, { maxPixels: 1_000_000 })).toMatchObject({
      photometric: 'MONOCHROME1',
      window: { center: 128, width: 256, function: 'LINEAR' },
    });
  });

  it.each([
    [
      'bytes that are not DICOM',
      () => new TextEncoder().encode('not a DICOM file at all'),
      /not a readable DICOM file/,
    ],
    [
      'a compressed transfer syntax (RLE)',
      () => patched(dicom(), '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.5'),
      /transfer syntax 1\.2\.840\.10008\.1\.2\.5 is not supported/,
    ],
    ['a colour image', () => patched(dicom(), 'MONOCHROME2', 'RGB        '), /the model reads greyscale/],
    ['truncated pixel data', () => dicom().slice(0, dicom().length - 100), /the DICOM file is truncated/],
  ])('refuses %s, saying why', (_label, bytes, reason) => {
    expect(() => readDicom(bytes(), { maxPixels: 1_000_000 })).toThrow(ImageRefusal);
    expect(() => readDicom(bytes(), { maxPixels: 1_000_000 })).toThrow(reason);
  });

  it('refuses an image larger than the limit, before reading its pixels', () => {
    expect(() => readDicom(dicom(), { maxPixels: 28 * 27 })).toThrow(
      /too large: 28 × 28 pixels, more than the 756/,
    );
  });
});

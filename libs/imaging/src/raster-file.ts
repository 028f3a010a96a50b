import sharp, { OutputInfo } from 'sharp';
import { GreyImage } from './grey-image';
import { ImageRefusal } from './image-refusal';

/**
 * Decodes a PNG or JPEG (a FHIR attachment from an EHR without a PACS) to 8-bit grey levels, as an
 * image of the same shape as a DICOM one: unsigned 8 bits, no rescale, no window, MONOCHROME2.
 */
export async function readRaster(bytes: Uint8Array, limits: { maxPixels: number }): Promise<GreyImage> {
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error' })
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new ImageRefusal(
      /pixel limit/i.test(message)
        ? `the image is too large: more than the ${limits.maxPixels} pixels accepted`
        : `the file is not a readable PNG or JPEG image (${message})`,
    );
  }
  const { width, height, channels } = decoded.info;
  const stored = new Float64Array(width * height);
  for (let i = 0; i < stored.length; i++) stored[i] = decoded.data[i * channels];
  return {
    format: 'raster',
    rows: height,
    columns: width,
    stored,
    bitsStored: 8,
    signed: false,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    photometric: 'MONOCHROME2',
    header: {},
  };
}

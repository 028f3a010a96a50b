/** The VOI LUT functions of DICOM PS3.3 C.11.2.1.3. */
export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

/**
 * One greyscale frame as stored, with the attributes that decide how its values become grey levels
 * (DICOM's grayscale pipeline: Modality LUT, VOI LUT, Presentation LUT).
 */
export interface GreyImage {
  /** A DICOM file states its modality, body part and view; a PNG or JPEG states none. */
  format: 'dicom' | 'raster';
  rows: number;
  columns: number;
  /** Stored values, row-major, already masked to `bitsStored` and sign-extended. */
  stored: Float64Array;
  bitsStored: number;
  signed: boolean;
  /** Modality LUT: value × slope + intercept. */
  rescaleSlope: number;
  rescaleIntercept: number;
  /** The first VOI window the file declares, if any. */
  window?: { center: number; width: number; function: VoiFunction };
  /** MONOCHROME1: high values are dark. */
  photometric: 'MONOCHROME1' | 'MONOCHROME2';
  /** What the file says it shows (DICOM only). */
  header: ImageHeader;
}

export interface ImageHeader {
  modality?: string;
  bodyPart?: string;
  viewPosition?: string;
  sopInstanceUid?: string;
  transferSyntax?: string;
}

import * as dcmjs from 'dcmjs';
import { GreyImage, VoiFunction } from './grey-image';
import { ImageRefusal } from './image-refusal';

const { DicomMessage, DicomMetaDictionary, datasetToBuffer } = dcmjs.data;

/** Uncompressed little-endian transfer syntaxes: the pixels are read as they are. */
export const UNCOMPRESSED_TRANSFER_SYNTAXES: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
};
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

export const SOP_CLASSES = {
  computedRadiography: '1.2.840.10008.5.1.4.1.1.1',
  digitalXRayForPresentation: '1.2.840.10008.5.1.4.1.1.1.1',
  secondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
} as const;

export interface DicomLimits {
  /** Largest frame accepted (rows × columns). */
  maxPixels: number;
}

/**
 * Reads a DICOM Part 10 file into its first greyscale frame and the attributes that decide its
 * pixels. Anything it cannot read exactly (not DICOM, compressed, colour, truncated, too large) is
 * an {@link ImageRefusal} that says what.
 */
export function readDicom(bytes: Uint8Array, limits: DicomLimits): GreyImage {
  let message: ReturnType<typeof DicomMessage.readFile>;
  try {
    const copy = bytes.slice().buffer;
    message = DicomMessage.readFile(copy);
  } catch (error) {
    throw new ImageRefusal(`the file is not a readable DICOM file (${firstLine(error)})`);
  }
  const transferSyntax = String(message.meta['00020010']?.Value?.[0] ?? '');
  if (!(transferSyntax in UNCOMPRESSED_TRANSFER_SYNTAXES)) {
    throw new ImageRefusal(
      `transfer syntax ${transferSyntax || '(none)'} is not supported: Aegle reads uncompressed little-endian DICOM (${Object.keys(UNCOMPRESSED_TRANSFER_SYNTAXES).join(', ')})`,
    );
  }
  const data = DicomMetaDictionary.naturalizeDataset(message.dict);
  const number = (key: string, fallback?: number): number | undefined => {
    const value = first(data[key]);
    const parsed = typeof value === 'number' ? value : value === undefined ? NaN : Number(value);
    return Number.isFinite(parsed) ? parsed : fallback;
  };
  const rows = number('Rows');
  const columns = number('Columns');
  const bitsAllocated = number('BitsAllocated');
  const bitsStored = number('BitsStored', bitsAllocated);
  const samples = number('SamplesPerPixel', 1);
  const photometric = String(first(data.PhotometricInterpretation) ?? '').trim();
  if (!rows || !columns || !bitsAllocated || !bitsStored) {
    throw new ImageRefusal('the DICOM file has no image (Rows, Columns or BitsAllocated missing)');
  }
  if (samples !== 1 || (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2')) {
    throw new ImageRefusal(
      `the image is ${photometric || 'of unknown photometric interpretation'} with ${samples} samples per pixel; the model reads greyscale (MONOCHROME1 or MONOCHROME2)`,
    );
  }
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw new ImageRefusal(`BitsAllocated ${bitsAllocated} is not supported (8 or 16)`);
  }
  if (rows * columns > limits.maxPixels) {
    throw new ImageRefusal(
      `the image is too large: ${columns} × ${rows} pixels, more than the ${limits.maxPixels} accepted`,
    );
  }
  if (pixelDataTruncated(bytes)) {
    throw new ImageRefusal('the DICOM file is truncated: its pixel data ends before the length it declares');
  }
  const frames = data.PixelData as ArrayBuffer[] | undefined;
  const bytesPerPixel = bitsAllocated / 8;
  const frameBytes = rows * columns * bytesPerPixel;
  const pixelBuffer = frames?.[0];
  if (!pixelBuffer || pixelBuffer.byteLength < frameBytes) {
    throw new ImageRefusal(
      `the DICOM file's pixel data is missing or truncated (${pixelBuffer?.byteLength ?? 0} of ${frameBytes} bytes)`,
    );
  }
  const signed = number('PixelRepresentation', 0) === 1;
  const view = new DataView(pixelBuffer, 0, frameBytes);
  const stored = new Float64Array(rows * columns);
  const mask = 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  for (let i = 0; i < stored.length; i++) {
    const raw = (bytesPerPixel === 1 ? view.getUint8(i) : view.getUint16(i * 2, true)) & mask;
    stored[i] = signed && raw >= signBit ? raw - 2 ** bitsStored : raw;
  }
  const center = number('WindowCenter');
  const width = number('WindowWidth');
  const voiFunction = String(first(data.VOILUTFunction) ?? 'LINEAR').trim() as VoiFunction;
  return {
    format: 'dicom',
    rows,
    columns,
    stored,
    bitsStored,
    signed,
    rescaleSlope: number('RescaleSlope', 1)!,
    rescaleIntercept: number('RescaleIntercept', 0)!,
    ...(center !== undefined && width !== undefined && width > 0
      ? {
          window: {
            center,
            width,
            function: ['LINEAR', 'LINEAR_EXACT', 'SIGMOID'].includes(voiFunction) ? voiFunction : 'LINEAR',
          },
        }
      : {}),
    photometric,
    header: {
      ...text('modality', data.Modality),
      ...text('bodyPart', data.BodyPartExamined),
      ...text('viewPosition', data.ViewPosition),
      ...text('sopInstanceUid', data.SOPInstanceUID),
      transferSyntax,
    },
  };
}

/** What {@link wrapAsDicom} writes around a greyscale image. */
export interface DicomWrapping {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** CR and DX get their radiography SOP classes; any other is written as a secondary capture. */
  modality: string;
  bodyPart?: string;
  viewPosition?: string;
  patientId: string;
  /** `Family^Given`, for test patients only. */
  patientName?: string;
  studyDate?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  photometric?: 'MONOCHROME1' | 'MONOCHROME2';
  rescaleSlope?: number;
  rescaleIntercept?: number;
  window?: { center: number; width: number };
}

/**
 * An 8-bit greyscale image as a DICOM Part 10 file (explicit VR little endian), as a modality or
 * a secondary-capture gateway would send it: the SOP class follows the modality, and the tags that
 * decide the pixels (photometric interpretation, rescale, window) are written explicitly.
 */
export function wrapAsDicom(
  pixels: Uint8Array,
  size: { rows: number; columns: number },
  wrapping: DicomWrapping,
): Uint8Array {
  if (pixels.length !== size.rows * size.columns) {
    throw new Error(`wrapAsDicom: ${pixels.length} pixels for ${size.columns} × ${size.rows}`);
  }
  const sopClassUid =
    wrapping.modality === 'CR'
      ? SOP_CLASSES.computedRadiography
      : wrapping.modality === 'DX'
        ? SOP_CLASSES.digitalXRayForPresentation
        : SOP_CLASSES.secondaryCapture;
  const buffer = datasetToBuffer({
    _meta: { TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN },
    _vrMap: { PixelData: 'OB' },
    SOPClassUID: sopClassUid,
    SOPInstanceUID: wrapping.sopInstanceUid,
    StudyInstanceUID: wrapping.studyInstanceUid,
    SeriesInstanceUID: wrapping.seriesInstanceUid,
    StudyDate: wrapping.studyDate ?? '20260101',
    Modality: wrapping.modality,
    ...(wrapping.modality === 'DX' ? { PresentationIntentType: 'FOR PRESENTATION' } : {}),
    ...(wrapping.bodyPart ? { BodyPartExamined: wrapping.bodyPart } : {}),
    ...(wrapping.viewPosition ? { ViewPosition: wrapping.viewPosition } : {}),
    PatientID: wrapping.patientId,
    PatientName: wrapping.patientName ?? '',
    SeriesNumber: wrapping.seriesNumber ?? 1,
    InstanceNumber: wrapping.instanceNumber ?? 1,
    ImageType: ['DERIVED', 'PRIMARY'],
    Rows: size.rows,
    Columns: size.columns,
    SamplesPerPixel: 1,
    PhotometricInterpretation: wrapping.photometric ?? 'MONOCHROME2',
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    RescaleSlope: wrapping.rescaleSlope ?? 1,
    RescaleIntercept: wrapping.rescaleIntercept ?? 0,
    RescaleType: 'US',
    ...(wrapping.window ? { WindowCenter: wrapping.window.center, WindowWidth: wrapping.window.width } : {}),
    PixelData: [pixels.slice().buffer],
  });
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** A new DICOM UID under the 2.25 (UUID-derived) root. */
export function newDicomUid(): string {
  return DicomMetaDictionary.uid();
}

/**
 * True when the Pixel Data element (7FE0,0010) declares more bytes than the file holds. dcmjs pads
 * a short element with zeros rather than failing, which would feed the model a made-up image.
 */
function pixelDataTruncated(bytes: Uint8Array): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = buffer.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  if (at === -1) return false;
  const vr = buffer.toString('latin1', at + 4, at + 6);
  const explicit = vr === 'OB' || vr === 'OW';
  const lengthAt = explicit ? at + 8 : at + 4;
  if (lengthAt + 4 > buffer.length) return true;
  const length = buffer.readUInt32LE(lengthAt);
  return length !== 0xffffffff && lengthAt + 4 + length > buffer.length;
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

function text<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  const found = first(value);
  return typeof found === 'string' && found.trim() ? ({ [key]: found.trim() } as Record<K, string>) : {};
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}

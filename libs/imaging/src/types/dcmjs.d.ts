// dcmjs ships no type declarations; these cover the calls Aegle makes.
declare module 'dcmjs' {
  type Naturalized = Record<string, unknown> & {
    _meta?: Record<string, unknown>;
    _vrMap?: Record<string, string>;
  };
  interface DicomDict {
    meta: Record<string, { vr: string; Value?: unknown[] }>;
    dict: Record<string, { vr: string; Value?: unknown[] }>;
  }
  export const data: {
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDict };
    DicomMetaDictionary: {
      naturalizeDataset(dict: DicomDict['dict']): Naturalized;
      uid(): string;
    };
    datasetToBuffer(dataset: Naturalized): Buffer;
  };
}

export * from './image-refusal';
export * from './grey-image';
export * from './dicom-file';
export * from './raster-file';
export * from './preprocess';
export * from './multipart';
export * from './dicomweb-client';
export * from './pneumoniamnist';

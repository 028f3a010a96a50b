import { join } from 'node:path';
import { pneumoniaMnistAvailable, PNEUMONIAMNIST_MISSING } from '@aegle/imaging';
import { FeatureSpec, gatherImage, ImageSource, readManifest } from '@aegle/plugin-sdk/engine';
import { fetchSourceImage } from '@aegle/runs';
import { chestStudy } from './support/imaging-studies';
import { sharedOrthanc } from './support/orthanc';

const PLUGIN = join(__dirname, '../plugins/diagnosis-pneumonia-cxr');
if (!pneumoniaMnistAvailable()) console.warn(PNEUMONIAMNIST_MISSING);
const withData = pneumoniaMnistAvailable() ? describe : describe.skip;

/**
 * The parity the model's validation figures rest on: a validation image wrapped as DICOM, stored in
 * a real Orthanc (STOW-RS) and fetched back over WADO-RS reaches the model, through the engine's
 * fetch and the manifest's preprocessing, as exactly the tensor of the raw data-set pixels.
 */
withData('imaging parity: data set → DICOM → Orthanc → WADO-RS → tensor', () => {
  it('gives exactly the raw grey levels of 24 validation images, as float32', async () => {
    const { dicomWebBase, client } = await sharedOrthanc();
    const manifest = await readManifest(PLUGIN);
    const spec = manifest.inputs.find((f) => f.source.from === 'image') as FeatureSpec & {
      source: ImageSource;
    };
    const source = {
      fhirBaseUrl: 'http://127.0.0.1:1/fhir',
      imaging: { dicomWebBaseUrls: [dicomWebBase], requestTimeoutMs: 10_000 },
    };
    const noFhir = { read: async () => undefined, authorization: async () => undefined } as never;
    for (let index = 0; index < 24; index++) {
      const { instance, study, pixels } = chestStudy({
        id: `parity-${index}`,
        patientId: 'parity',
        split: 'val',
        index,
        dicomWebBase,
        seriesModality: index % 2 ? 'DX' : 'CR',
      });
      await client.store([instance]);
      const data = {
        imageBytes: (location: never, limits: never) => fetchSourceImage(noFhir, source, location, limits),
      };
      const feature = await gatherImage(spec, data as never, study);
      expect(Float32Array.from(feature.values!)).toEqual(Float32Array.from(pixels));
      expect(feature.values).toHaveLength(28 * 28);
    }
  });
});

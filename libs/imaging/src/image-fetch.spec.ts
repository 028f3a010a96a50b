import { fetchImageBytes, ImageAccess } from './image-fetch';
import { ImageRefusal } from './image-refusal';

const png = Buffer.from('not really a png, but bytes').toString('base64');
const reads: string[] = [];
const access: ImageAccess = {
  fhirBaseUrl: 'https://ehr.example.org/fhir',
  read: async (type, id) => {
    reads.push(`${type}/${id}`);
    return type === 'Binary' && id === 'xray'
      ? { resourceType: 'Binary', contentType: 'image/png', data: png }
      : undefined;
  },
  dicomWeb: () => undefined,
};
const limits = { maxBytes: 1024 };
const attachment = (url: string) => ({
  kind: 'attachment' as const,
  attachment: { contentType: 'image/png', url },
});

describe('fetchImageBytes from attachments', () => {
  beforeEach(() => (reads.length = 0));

  it.each(['Binary/xray', 'https://ehr.example.org/fhir/Binary/xray'])(
    'reads the Binary %s from the source',
    async (url) => {
      const { bytes, contentType } = await fetchImageBytes(attachment(url), access, limits);
      expect(Buffer.from(bytes).toString('base64')).toBe(png);
      expect(contentType).toBe('image/png');
      expect(reads).toEqual(['Binary/xray']);
    },
  );

  it.each(['https://elsewhere.example.com/fhir/Binary/xray', 'https://ehr.example.org/other/xray.png'])(
    'never follows %s, which is not a Binary of the source',
    async (url) => {
      await expect(fetchImageBytes(attachment(url), access, limits)).rejects.toThrow(ImageRefusal);
      expect(reads).toEqual([]);
    },
  );

  it('refuses inline data larger than the limit, and a Binary that is not there', async () => {
    const big = {
      kind: 'attachment' as const,
      attachment: { contentType: 'image/png', data: 'A'.repeat(4096) },
    };
    await expect(fetchImageBytes(big, access, limits)).rejects.toThrow(/too large/);
    await expect(fetchImageBytes(attachment('Binary/missing'), access, limits)).rejects.toThrow(
      /Binary\/missing does not exist/,
    );
  });

  it('refuses a study whose Endpoint is not DICOMweb, or whose PACS the source does not list', async () => {
    const study = (endpoint: Partial<fhir4.Endpoint>) => ({
      kind: 'dicomweb' as const,
      endpoint: { reference: '#pacs' },
      contained: {
        resourceType: 'Endpoint',
        status: 'active',
        address: 'https://pacs.example.org/dicom-web',
        payloadType: [],
        connectionType: { code: 'dicom-wado-rs' },
        ...endpoint,
      } as fhir4.Endpoint,
      study: '2.25.1',
      series: '2.25.2',
      instance: '2.25.3',
    });
    await expect(
      fetchImageBytes(study({ connectionType: { code: 'hl7-fhir-rest' } }), access, limits),
    ).rejects.toThrow(/is hl7-fhir-rest, not dicom-wado-rs/);
    await expect(fetchImageBytes(study({}), access, limits)).rejects.toThrow(
      /not one configured for this source/,
    );
  });
});

import { DicomWebClient, InstanceSummary } from './dicomweb-client';
import { ImageRefusal } from './image-refusal';

/** Where an image is, as the focus resource says (see the plugin SDK's ImageLocation). */
export type ImageReference =
  | {
      kind: 'dicomweb';
      endpoint: fhir4.Reference;
      contained?: fhir4.Endpoint;
      study: string;
      series: string;
      instance: string;
    }
  | { kind: 'attachment'; attachment: fhir4.Attachment };

/** What fetching an image needs from the record's source. */
export interface ImageAccess {
  /** Reads a resource of the record (an Endpoint, a Binary); undefined when it does not exist. */
  read(resourceType: string, id: string): Promise<fhir4.Resource | undefined>;
  /**
   * The DICOMweb client for a PACS base URL this source's studies may name, authenticated as the
   * source is configured; undefined for any other URL, so no credential goes to a host not listed.
   */
  dicomWeb(baseUrl: string, maxBytes: number): DicomWebClient | undefined;
  /** The source's FHIR base: an absolute attachment URL must point under it. */
  fhirBaseUrl?: string;
}

const WADO_RS = 'dicom-wado-rs';

/**
 * The bytes of an image: an instance from the PACS the study's Endpoint names (WADO-RS), or an
 * attachment's inline data or its Binary. An Endpoint that is not DICOMweb, not active or not
 * allowed, or an attachment with nothing to read, is an {@link ImageRefusal}.
 */
export async function fetchImageBytes(
  location: ImageReference,
  access: ImageAccess,
  limits: { maxBytes: number },
): Promise<{ bytes: Uint8Array; contentType: string }> {
  if (location.kind === 'attachment') return attachmentBytes(location.attachment, access, limits);
  const client = await pacsOf(location, access, limits.maxBytes);
  const bytes = await client.retrieveInstance(location.study, location.series, location.instance);
  return { bytes, contentType: 'application/dicom' };
}

/** The study's instances as its PACS lists them (QIDO-RS), for a study notified without its series. */
export async function listStudyInstances(
  study: StudyReference,
  access: ImageAccess,
): Promise<InstanceSummary[]> {
  const client = await pacsOf(study, access, 16 * 1024 * 1024);
  return client.searchInstances(study.study);
}

/** Where a study's images are: its (or its series') Endpoint and its Study Instance UID. */
export interface StudyReference {
  endpoint: fhir4.Reference;
  contained?: fhir4.Endpoint;
  study: string;
}

/** The DICOMweb client for the PACS a study's Endpoint names, if the source allows it. */
async function pacsOf(study: StudyReference, access: ImageAccess, maxBytes: number): Promise<DicomWebClient> {
  const endpoint = study.contained ?? (await readEndpoint(study.endpoint, access));
  const type = endpoint.connectionType?.code;
  if (type !== WADO_RS) {
    throw new ImageRefusal(`the study's Endpoint is ${type ?? 'untyped'}, not ${WADO_RS}`);
  }
  if (endpoint.status && endpoint.status !== 'active') {
    throw new ImageRefusal(`the study's Endpoint is ${endpoint.status}, not active`);
  }
  const client = access.dicomWeb(endpoint.address, maxBytes);
  if (!client) {
    throw new ImageRefusal(
      `the study's DICOMweb address ${endpoint.address} is not one configured for this source (imaging.dicomWebBaseUrls)`,
    );
  }
  return client;
}

async function readEndpoint(reference: fhir4.Reference, access: ImageAccess): Promise<fhir4.Endpoint> {
  const [type, id] = (reference.reference ?? '').split('/').slice(-2);
  if (type !== 'Endpoint' || !id) {
    throw new ImageRefusal(
      `the study's endpoint ${reference.reference ?? '(no reference)'} is not an Endpoint`,
    );
  }
  const endpoint = await access.read('Endpoint', id);
  if (!endpoint) throw new ImageRefusal(`the study's Endpoint/${id} does not exist`);
  return endpoint as fhir4.Endpoint;
}

async function attachmentBytes(
  attachment: fhir4.Attachment,
  access: ImageAccess,
  limits: { maxBytes: number },
): Promise<{ bytes: Uint8Array; contentType: string }> {
  const contentType = attachment.contentType ?? '';
  let data = attachment.data;
  if (!data && attachment.url) {
    const url = attachment.url;
    const own =
      !/^[a-z][a-z0-9+.-]*:/i.test(url) || (!!access.fhirBaseUrl && url.startsWith(`${access.fhirBaseUrl}/`));
    const match = own ? /(?:^|\/)Binary\/([A-Za-z0-9\-.]{1,64})$/.exec(url) : null;
    if (!match) {
      throw new ImageRefusal(
        'the attachment URL is not a Binary of the record: Aegle reads only from its sources',
      );
    }
    const binary = (await access.read('Binary', match[1])) as fhir4.Binary | undefined;
    if (!binary) throw new ImageRefusal(`the attachment's Binary/${match[1]} does not exist`);
    data = binary.data;
  }
  if (!data) throw new ImageRefusal('the attachment has neither data nor a Binary URL');
  if ((data.length * 3) / 4 > limits.maxBytes) {
    throw new ImageRefusal(`the attachment is too large: more than ${limits.maxBytes} bytes`);
  }
  const bytes = Buffer.from(data, 'base64');
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType };
}

import { SourceConfig } from '@aegle/config';
import { EhrClient, EhrRequestError } from '@aegle/fhir';
import {
  DicomWebClient,
  fetchImageBytes,
  ImageAccess,
  ImageReference,
  ImageSourceUnavailable,
  InstanceSummary,
  listStudyInstances,
  StudyReference,
} from '@aegle/imaging';

/**
 * The images a source's events point at: instances from the PACS its configuration lists (with the
 * source's own credentials), attachments and Binaries from its FHIR API. A PACS that cannot answer
 * now is an {@link EhrRequestError}, so the run is retried like any read the EHR could not serve.
 */
export function fetchSourceImage(
  client: EhrClient,
  source: ImagingSource | undefined,
  location: ImageReference,
  limits: { maxBytes: number },
): Promise<{ bytes: Uint8Array; contentType: string }> {
  return retriedWhenDown(fetchImageBytes(location, sourceAccess(client, source), limits));
}

/** A study's instances, listed by the source's PACS (QIDO-RS). */
export function listSourceStudyInstances(
  client: EhrClient,
  source: ImagingSource | undefined,
  study: StudyReference,
): Promise<InstanceSummary[]> {
  return retriedWhenDown(listStudyInstances(study, sourceAccess(client, source)));
}

/** What of a source's configuration fetching its images needs. */
export type ImagingSource = Pick<SourceConfig, 'imaging' | 'fhirBaseUrl'>;

function sourceAccess(client: EhrClient, source: ImagingSource | undefined): ImageAccess {
  const allowed = new Set(source?.imaging.dicomWebBaseUrls ?? []);
  return {
    ...(source ? { fhirBaseUrl: source.fhirBaseUrl } : {}),
    read: (resourceType, id) => client.read(resourceType, id),
    dicomWeb: (baseUrl, maxBytes) => {
      const base = baseUrl.replace(/\/+$/, '');
      return allowed.has(base)
        ? new DicomWebClient(base, {
            authorization: () => client.authorization(),
            timeoutMs: source!.imaging.requestTimeoutMs,
            maxBytes,
          })
        : undefined;
    },
  };
}

async function retriedWhenDown<T>(request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof ImageSourceUnavailable)
      throw new EhrRequestError(error.status, undefined, error.message);
    throw error;
  }
}

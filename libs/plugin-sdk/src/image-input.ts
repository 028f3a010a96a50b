import { GreyImage, ImageRefusal, preprocessImage, readDicom, readRaster } from '@aegle/imaging';
import { codingMatches } from './coding-match';
import { FeatureValue } from './inputs';
import { FeatureSpec, ImageSource } from './manifest';
import { ImageLocation, PatientData } from './patient-data';

const DICOM_UID_SYSTEM = 'urn:dicom:uid';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Content types read from FHIR attachments. */
export const IMAGE_CONTENT_TYPES = ['application/dicom', 'image/png', 'image/jpeg'];
/** Instances of a series tried, in order, for a frontal view before the run is refused. */
const MAX_INSTANCES_TRIED = 8;

/** One image the focus points at, before it is read. */
interface Candidate {
  location: ImageLocation;
  /** How the audit names it: series and instance numbers, never patient data. */
  label: string;
}

/**
 * Reads the image an image input declares from the event's focus and makes it the model's tensor:
 * which image (the first instance of a matching series whose view is one of `views`), what is
 * refused (wrong modality, body part or view, unreadable file: an {@link ImageRefusal}), and the
 * manifest's preprocessing.
 */
export async function gatherImage(
  spec: FeatureSpec & { source: ImageSource },
  data: PatientData,
  focus: fhir4.Resource | undefined,
): Promise<FeatureValue> {
  const source = spec.source;
  const candidates = await imageCandidates(source, focus, data);
  const skipped: string[] = [];
  for (const candidate of candidates.slice(0, MAX_INSTANCES_TRIED)) {
    if (!data.imageBytes) throw new Error('this record source cannot fetch images');
    const { bytes, contentType } = await data.imageBytes(candidate.location, { maxBytes: source.maxBytes });
    const image = await decode(bytes, contentType, source.maxPixels);
    checkHeader(image, source, candidate.label);
    const view = image.header.viewPosition;
    // A PNG or JPEG names no view: the EHR's document (and the trigger on it) vouches for it.
    if (image.format === 'dicom' && source.views && !(view && source.views.includes(view))) {
      skipped.push(`${candidate.label} is ${view ? `a ${view}` : 'an unlabelled'} view`);
      continue;
    }
    const tensor = preprocessImage(image, source.preprocess);
    const values = Array.from(tensor);
    const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
    const what = [image.header.modality, view].filter(Boolean).join(' ');
    return {
      name: spec.name,
      value: Math.round(mean * 100) / 100,
      values,
      display: `${candidate.label}${what ? ` (${what})` : ''}, ${image.columns} × ${image.rows} → ${source.preprocess.width} × ${source.preprocess.height}`,
      source: provenanceOf(focus!),
    };
  }
  throw new ImageRefusal(
    `no ${source.views!.join(' or ')} view: ${skipped.join('; ')}${candidates.length > MAX_INSTANCES_TRIED ? ` (the first ${MAX_INSTANCES_TRIED} instances tried)` : ''}`,
  );
}

/** The images of the focus, in reading order, that may be the one the model reads. */
async function imageCandidates(
  source: ImageSource,
  focus: fhir4.Resource | undefined,
  data: PatientData,
): Promise<Candidate[]> {
  switch (focus?.resourceType) {
    case 'ImagingStudy':
      return studyCandidates(source, focus as fhir4.ImagingStudy, data);
    case 'DocumentReference': {
      const attachments = ((focus as fhir4.DocumentReference).content ?? []).map((c) => c.attachment);
      const image = attachments.find((a) => IMAGE_CONTENT_TYPES.includes(baseType(a.contentType)));
      if (!image) {
        throw new ImageRefusal(
          `the DocumentReference has no ${IMAGE_CONTENT_TYPES.join(', ')} attachment (it has ${attachments.map((a) => a.contentType ?? 'untyped').join(', ') || 'none'})`,
        );
      }
      return [{ location: { kind: 'attachment', attachment: image }, label: 'the attached image' }];
    }
    case 'Binary': {
      const binary = focus as fhir4.Binary;
      if (!IMAGE_CONTENT_TYPES.includes(baseType(binary.contentType))) {
        throw new ImageRefusal(`the Binary is ${binary.contentType}, not ${IMAGE_CONTENT_TYPES.join(', ')}`);
      }
      return [
        {
          location: {
            kind: 'attachment',
            attachment: { contentType: binary.contentType, ...(binary.data ? { data: binary.data } : {}) },
          },
          label: 'the Binary',
        },
      ];
    }
    case undefined:
    default:
      throw new ImageRefusal(
        `an image is read from an ImagingStudy, DocumentReference or Binary, not from ${focus?.resourceType ?? 'no focus'}`,
      );
  }
}

async function studyCandidates(
  source: ImageSource,
  study: fhir4.ImagingStudy,
  data: PatientData,
): Promise<Candidate[]> {
  const uid = study.identifier?.find((i) => i.system === DICOM_UID_SYSTEM)?.value?.replace(/^urn:oid:/, '');
  if (!uid)
    throw new ImageRefusal('the ImagingStudy has no Study Instance UID (identifier system urn:dicom:uid)');
  const series = study.series?.length ? study.series : await seriesFromPacs(study, uid, data);
  if (series.length === 0)
    throw new ImageRefusal('the study has no series, in the ImagingStudy or in its PACS');
  const matching = series.filter(
    (s) =>
      s.modality.system !== undefined &&
      s.modality.system === DCM &&
      source.modalities.includes(s.modality.code ?? '') &&
      (!source.bodySites || !s.bodySite || codingMatches(s.bodySite, source.bodySites)),
  );
  if (matching.length === 0) {
    const found = series.map((s) =>
      [s.modality.code, s.bodySite?.display ?? s.bodySite?.code].filter(Boolean).join(' '),
    );
    throw new ImageRefusal(
      `no ${source.modalities.join(' or ')} series${source.bodySites ? ' of the declared body site' : ''} in the study (it has ${found.join(', ')})`,
    );
  }
  const candidates: Candidate[] = [];
  for (const s of matching) {
    const endpoint = s.endpoint?.[0] ?? study.endpoint?.[0];
    if (!endpoint) throw new ImageRefusal('the ImagingStudy names no endpoint to fetch its images from');
    const instances = [...(s.instance ?? [])].sort((a, b) => (a.number ?? 0) - (b.number ?? 0));
    for (const instance of instances) {
      candidates.push({
        location: {
          kind: 'dicomweb',
          endpoint,
          ...containedEndpoint(study, endpoint),
          study: uid,
          series: s.uid,
          instance: instance.uid,
        },
        label: `series ${s.number ?? '?'} instance ${instance.number ?? '?'}`,
      });
    }
  }
  if (candidates.length === 0) throw new ImageRefusal('the matching series list no instances');
  return candidates;
}

/**
 * The series of a study notified without them, from its PACS (QIDO-RS), shaped as the
 * ImagingStudy's series would be; their body site is left to the files' own BodyPartExamined.
 */
async function seriesFromPacs(
  study: fhir4.ImagingStudy,
  uid: string,
  data: PatientData,
): Promise<fhir4.ImagingStudySeries[]> {
  const endpoint = study.endpoint?.[0];
  if (!endpoint) throw new ImageRefusal('the ImagingStudy lists no series and names no endpoint');
  if (!data.studyInstances) throw new ImageRefusal('the ImagingStudy lists no series');
  const instances = await data.studyInstances({
    endpoint,
    ...containedEndpoint(study, endpoint),
    study: uid,
  });
  const bySeries = new Map<string, fhir4.ImagingStudySeries>();
  instances.forEach((found, i) => {
    const series = bySeries.get(found.seriesInstanceUid) ?? {
      uid: found.seriesInstanceUid,
      number: bySeries.size + 1,
      modality: { system: DCM, code: found.modality ?? '' },
      instance: [],
    };
    series.instance!.push({
      uid: found.sopInstanceUid,
      sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:' },
      number: found.instanceNumber ?? i + 1,
    });
    bySeries.set(found.seriesInstanceUid, series);
  });
  return [...bySeries.values()];
}

function containedEndpoint(
  study: fhir4.ImagingStudy,
  endpoint: fhir4.Reference,
): { contained?: fhir4.Endpoint } {
  const contained = endpoint.reference?.startsWith('#')
    ? (study.contained?.find((c) => c.resourceType === 'Endpoint' && `#${c.id}` === endpoint.reference) as
        fhir4.Endpoint | undefined)
    : undefined;
  return contained ? { contained } : {};
}

async function decode(bytes: Uint8Array, contentType: string, maxPixels: number): Promise<GreyImage> {
  const type = baseType(contentType);
  if (type === 'image/png' || type === 'image/jpeg') return readRaster(bytes, { maxPixels });
  if (type === 'application/dicom') return readDicom(bytes, { maxPixels });
  throw new ImageRefusal(
    `${contentType} is not an image type Aegle reads (${IMAGE_CONTENT_TYPES.join(', ')})`,
  );
}

/** What the file says it shows must be what the model reads: a mismatch is refused, never guessed. */
function checkHeader(image: GreyImage, source: ImageSource, label: string): void {
  const { modality, bodyPart } = image.header;
  if (modality && !source.modalities.includes(modality)) {
    throw new ImageRefusal(`${label} is ${modality}, not ${source.modalities.join(' or ')}`);
  }
  if (bodyPart && source.bodyParts && !source.bodyParts.includes(bodyPart)) {
    throw new ImageRefusal(`${label} shows ${bodyPart}, not ${source.bodyParts.join(' or ')}`);
  }
}

function baseType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function provenanceOf(resource: fhir4.Resource): { reference: string; effective?: string } {
  const base = `${resource.resourceType}/${resource.id}`;
  const reference = resource.meta?.versionId ? `${base}/_history/${resource.meta.versionId}` : base;
  const effective =
    (resource as fhir4.ImagingStudy).started ?? (resource as fhir4.DocumentReference).date ?? undefined;
  return { reference, ...(effective ? { effective } : {}) };
}

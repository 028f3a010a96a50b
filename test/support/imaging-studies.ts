import { newDicomUid, pneumoniaMnistImage, Split, wrapAsDicom } from '@aegle/imaging';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

/** One data-set image wrapped as a DICOM instance of a new study, and the ImagingStudy that notifies it. */
export interface ChestStudy {
  instance: Uint8Array;
  study: fhir4.ImagingStudy;
  pixels: Uint8Array;
}

/**
 * A chest radiograph study as a modality and an EHR would hold it: a PneumoniaMNIST image (by split
 * and index) wrapped as DICOM at run time, and the ImagingStudy naming its series and instance, with
 * its endpoint (a contained Endpoint at `dicomWebBase`, or a reference to one).
 */
export function chestStudy(options: {
  id: string;
  patientId: string;
  split: Split;
  index: number;
  dicomWebBase?: string;
  endpointReference?: string;
  /** What the ImagingStudy says; default CR. */
  seriesModality?: string;
  /** What the DICOM file says; default the series modality. */
  fileModality?: string;
  view?: string;
  bodyPart?: string;
}): ChestStudy {
  const { pixels, rows, columns } = pneumoniaMnistImage(options.split, options.index);
  const studyUid = newDicomUid();
  const seriesUid = newDicomUid();
  const sopUid = newDicomUid();
  const seriesModality = options.seriesModality ?? 'CR';
  const instance = wrapAsDicom(
    pixels,
    { rows, columns },
    {
      studyInstanceUid: studyUid,
      seriesInstanceUid: seriesUid,
      sopInstanceUid: sopUid,
      modality: options.fileModality ?? seriesModality,
      bodyPart: options.bodyPart ?? 'CHEST',
      viewPosition: options.view ?? 'PA',
      patientId: options.patientId,
    },
  );
  const endpoint = options.endpointReference ?? '#pacs';
  const study: fhir4.ImagingStudy = {
    resourceType: 'ImagingStudy',
    id: options.id,
    ...(options.dicomWebBase
      ? {
          contained: [
            {
              resourceType: 'Endpoint',
              id: 'pacs',
              status: 'active',
              connectionType: {
                system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type',
                code: 'dicom-wado-rs',
              },
              payloadType: [{ text: 'DICOM' }],
              address: options.dicomWebBase,
            },
          ],
        }
      : {}),
    identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }],
    status: 'available',
    modality: [{ system: DCM, code: seriesModality }],
    subject: { reference: `Patient/${options.patientId}` },
    started: new Date(Date.now() - 3600_000).toISOString(),
    endpoint: [{ reference: endpoint }],
    numberOfSeries: 1,
    numberOfInstances: 1,
    series: [
      {
        uid: seriesUid,
        number: 1,
        modality: { system: DCM, code: seriesModality },
        bodySite: { system: 'http://snomed.info/sct', code: '51185008', display: 'Thoracic structure' },
        instance: [
          {
            uid: sopUid,
            number: 1,
            sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.1' },
          },
        ],
      },
    ],
  };
  return { instance, study, pixels };
}

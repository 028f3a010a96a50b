/** A medication the patient is actively taking or prescribed, with its codes resolved. */
export interface ActiveMedication {
  resource: fhir4.MedicationStatement | fhir4.MedicationRequest;
  codings: fhir4.Coding[];
  /** The medication's free text, when the EHR gives one. */
  text?: string;
}

import type { ImageReference, InstanceSummary, StudyReference } from '@aegle/imaging';

/** Where the bytes of an image the focus points at are: a PACS instance or an attachment. */
export type ImageLocation = ImageReference;

export interface ImageBytes {
  bytes: Uint8Array;
  /** `application/dicom`, `image/png` or `image/jpeg`. */
  contentType: string;
}

/**
 * Read access to one patient's record. The engine implements it over the EHR's FHIR API; the
 * plugin harness implements it over a FHIR Bundle, so a plugin runs the same way in both.
 */
export interface PatientData {
  patient(): Promise<fhir4.Patient | undefined>;
  /** Observations with any of these `system|code` codes, newest first, effective on or after `since`. */
  observations(codes: readonly string[], since?: Date): Promise<fhir4.Observation[]>;
  activeConditions(): Promise<fhir4.Condition[]>;
  /**
   * Every Condition not refuted or entered in error, whatever its clinical status: a resolved
   * myocardial infarction is still a history of one.
   */
  conditions(): Promise<fhir4.Condition[]>;
  activeMedications(): Promise<ActiveMedication[]>;
  /** Observations the focus resource groups (DiagnosticReport.result, Observation.hasMember). */
  members(): Promise<fhir4.Observation[]>;
  /**
   * The bytes of an image the focus points at: an instance from the PACS named by the focus's
   * endpoint (WADO-RS), or an attachment's data or URL. Throws an ImageRefusal for an image that
   * cannot be used, an error the run retries when the PACS cannot answer now.
   */
  imageBytes?(location: ImageLocation, limits: { maxBytes: number }): Promise<ImageBytes>;
  /** The instances of a study notified without its series, as its PACS lists them (QIDO-RS). */
  studyInstances?(study: StudyReference): Promise<InstanceSummary[]>;
}

/** A medication the patient is actively taking or prescribed, with its codes resolved. */
export interface ActiveMedication {
  resource: fhir4.MedicationStatement | fhir4.MedicationRequest;
  codings: fhir4.Coding[];
  /** The medication's free text, when the EHR gives one. */
  text?: string;
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
}

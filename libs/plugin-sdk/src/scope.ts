import { ImageRefusal, InstanceSummary, StudyReference } from '@aegle/imaging';
import { codingMatches } from './coding-match';
import { DataScope } from './manifest';
import { ActiveMedication, ImageBytes, ImageLocation, PatientData } from './patient-data';

const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/**
 * Security labels that restrict who may read a resource. A resource carrying one of them reaches
 * only plugins whose `dataScope.securityLabels` list it: restricted and very restricted
 * confidentiality, 42 CFR Part 2 (substance use disorder records) and the HL7 sensitivity codes.
 */
export const RESTRICTED_SECURITY_LABELS: readonly string[] = [
  `${CONFIDENTIALITY}|R`,
  `${CONFIDENTIALITY}|V`,
  `${ACT_CODE}|42CFRPart2`,
  ...['ETH', 'GDIS', 'HIV', 'MST', 'PSY', 'SCA', 'SDV', 'SEX', 'STD', 'SUD', 'TBOO'].map(
    (code) => `${ACT_CODE}|${code}`,
  ),
];

/** The restricted labels on a resource that the scope does not allow, as `system|code`. */
export function blockedLabels(resource: fhir4.Resource, scope: DataScope): string[] {
  return (resource.meta?.security ?? [])
    .filter((label) => codingMatches(label, RESTRICTED_SECURITY_LABELS))
    .filter((label) => !codingMatches(label, scope.securityLabels))
    .map((label) => `${label.system}|${label.code}`);
}

/** Raised when a plugin would be given data outside its scope; the run is skipped with the reason. */
export class DataScopeError extends Error {
  override name = 'DataScopeError';
}

/** Throws a {@link DataScopeError} when the resource carries a restricted label the plugin is not allowed. */
export function assertLabelsAllowed(resource: fhir4.Resource, scope: DataScope, role = 'input'): void {
  const blocked = blockedLabels(resource, scope);
  if (blocked.length > 0) {
    throw new DataScopeError(
      `the ${role} ${resource.resourceType}/${resource.id ?? '(no id)'} carries restricted security label ${blocked.join(', ')}, which the plugin is not allowed`,
    );
  }
}

/**
 * {@link PatientData} as one plugin may see it: reading a type outside its scope, or receiving a
 * resource with a restricted label it is not allowed, stops the run before the plugin sees it.
 */
export class ScopedPatientData implements PatientData {
  constructor(
    private readonly data: PatientData,
    private readonly scope: DataScope,
  ) {}

  async patient(): Promise<fhir4.Patient | undefined> {
    this.needs('Patient');
    const patient = await this.data.patient();
    if (patient) assertLabelsAllowed(patient, this.scope);
    return patient;
  }

  async observations(codes: readonly string[], since?: Date): Promise<fhir4.Observation[]> {
    this.needs('Observation');
    return this.checked(await this.data.observations(codes, since));
  }

  async conditions(): Promise<fhir4.Condition[]> {
    this.needs('Condition');
    return this.checked(await this.data.conditions());
  }

  async activeConditions(): Promise<fhir4.Condition[]> {
    this.needs('Condition');
    return this.checked(await this.data.activeConditions());
  }

  async activeMedications(): Promise<ActiveMedication[]> {
    this.needs('MedicationStatement');
    this.needs('MedicationRequest');
    const found = await this.data.activeMedications();
    for (const medication of found) assertLabelsAllowed(medication.resource, this.scope);
    return found;
  }

  async members(): Promise<fhir4.Observation[]> {
    this.needs('Observation');
    return this.checked(await this.data.members());
  }

  imageBytes(location: ImageLocation, limits: { maxBytes: number }): Promise<ImageBytes> {
    if (!this.data.imageBytes) throw new Error('this record source cannot fetch images');
    if (location.kind === 'dicomweb' && !location.contained) this.needs('Endpoint');
    if (location.kind === 'attachment' && !location.attachment.data) this.needs('Binary');
    return this.data.imageBytes(location, limits);
  }

  studyInstances(study: StudyReference): Promise<InstanceSummary[]> {
    if (!this.data.studyInstances) throw new ImageRefusal('the ImagingStudy lists no series');
    if (!study.contained) this.needs('Endpoint');
    return this.data.studyInstances(study);
  }

  /** A read outside the declared types is the plugin's bug: a failed run, not a skip. */
  private needs(type: string): void {
    if (!this.scope.resourceTypes.includes(type)) {
      throw new Error(`the plugin read ${type}, which is outside its dataScope.resourceTypes`);
    }
  }

  private checked<T extends fhir4.Resource>(resources: T[]): T[] {
    for (const resource of resources) assertLabelsAllowed(resource, this.scope);
    return resources;
  }
}

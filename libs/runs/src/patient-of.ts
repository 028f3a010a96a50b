import { parseReference } from '@aegle/fhir';

/** The Patient id a focus resource is about: the Patient itself, or its subject/patient reference. */
export function patientIdOf(resource: fhir4.Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const r = resource as { subject?: fhir4.Reference; patient?: fhir4.Reference };
  const key = parseReference(r.subject?.reference ?? r.patient?.reference ?? '');
  return key?.resourceType === 'Patient' ? key.id : undefined;
}

import { conceptMatches } from './coding-match';
import { ActiveMedication } from './patient-data';

/**
 * The one rule set for which of a patient's resources count, applied alike to what the EHR's
 * searches answer (the engine) and to a Bundle (the offline harness). The EHR's searches only
 * narrow what is fetched: these rules decide, so both see the same record.
 */

/** Observation statuses that are not a measurement (an error, a cancelled or not yet made one). */
const UNUSABLE_OBSERVATION_STATUS = new Set(['entered-in-error', 'cancelled', 'registered']);
/** Condition clinical statuses of a condition the patient has now. */
export const ACTIVE_CLINICAL_STATUS: readonly string[] = ['active', 'recurrence', 'relapse'];
/** Condition verification statuses of a condition the patient never had. */
const REFUTED = new Set(['refuted', 'entered-in-error']);
/** The MedicationStatement and MedicationRequest status of a medication taken or prescribed now. */
export const ACTIVE_MEDICATION_STATUS = 'active';

type MedicationOrder = fhir4.MedicationStatement | fhir4.MedicationRequest;

/** `Type` and `id` of a relative or absolute reference, a `_history` suffix left out. */
export function referenceKey(
  reference: string | undefined,
): { resourceType: string; id: string } | undefined {
  const parts = (reference ?? '').split(/[?#]/)[0].replace(/\/+$/, '').split('/');
  const history = parts.lastIndexOf('_history');
  const [resourceType, id] = history >= 2 ? parts.slice(history - 2, history) : parts.slice(-2);
  return /^[A-Z][A-Za-z]{1,63}$/.test(resourceType ?? '') && /^[A-Za-z0-9\-.]{1,64}$/.test(id ?? '')
    ? { resourceType, id }
    : undefined;
}

/** The Patient id a resource is about: the Patient itself, or its subject/patient reference. */
export function patientIdOf(resource: fhir4.Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const { subject, patient } = resource as { subject?: fhir4.Reference; patient?: fhir4.Reference };
  const key = referenceKey(subject?.reference ?? patient?.reference);
  return key?.resourceType === 'Patient' ? key.id : undefined;
}

/** True when the resource is this patient's: a resource with no subject is no one's. */
function ofPatient(resource: fhir4.Resource, patientId: string): boolean {
  return patientIdOf(resource) === patientId;
}

/** When an Observation was made: its effective time (a period's end, else start). */
function effectiveTime(observation: fhir4.Observation): string | undefined {
  return (
    observation.effectiveDateTime ??
    observation.effectiveInstant ??
    observation.effectivePeriod?.end ??
    observation.effectivePeriod?.start
  );
}

/** When an Observation happened: its effective time, else when it was issued. */
export function observationTime(observation: fhir4.Observation): string | undefined {
  return effectiveTime(observation) ?? observation.issued;
}

/**
 * The first day of a look-back window, as the FHIR `date` search compares it: an Observation
 * counts when its effective time falls on or after it. One without an effective time falls in no
 * window (the search cannot find it either).
 */
export function windowStart(since: Date): string {
  return since.toISOString().slice(0, 10);
}

function timeOf(observation: fhir4.Observation): number {
  const time = Date.parse(observationTime(observation) ?? '');
  return Number.isNaN(time) ? 0 : time;
}

/** Newest first; of two made at the same time, the one updated last, then by id, so both readers agree. */
function newestFirst(a: fhir4.Observation, b: fhir4.Observation): number {
  return (
    timeOf(b) - timeOf(a) ||
    (b.meta?.lastUpdated ?? '').localeCompare(a.meta?.lastUpdated ?? '') ||
    (a.id ?? '').localeCompare(b.id ?? '')
  );
}

function usable(observation: fhir4.Observation): boolean {
  return !UNUSABLE_OBSERVATION_STATUS.has(observation.status);
}

/** The patient's usable Observations with one of the codes, in the window, newest first. */
export function recordedObservations(
  found: fhir4.Observation[],
  patientId: string,
  codes: readonly string[],
  since?: Date,
): fhir4.Observation[] {
  const from = since && Date.parse(windowStart(since));
  return found
    .filter((o) => usable(o) && ofPatient(o, patientId) && conceptMatches(o.code, codes))
    .filter((o) => from === undefined || Date.parse(effectiveTime(o) ?? '') >= from)
    .sort(newestFirst);
}

/** The patient's Conditions, whatever their clinical status, but for refuted ones and errors. */
export function recordedConditions(found: fhir4.Condition[], patientId: string): fhir4.Condition[] {
  return found.filter(
    (c) => ofPatient(c, patientId) && !c.verificationStatus?.coding?.some((v) => REFUTED.has(v.code ?? '')),
  );
}

/** The patient's Conditions that are active (or recurring, or relapsed) now. */
export function activeConditions(found: fhir4.Condition[], patientId: string): fhir4.Condition[] {
  return recordedConditions(found, patientId).filter((c) =>
    (c.clinicalStatus?.coding ?? []).some((s) => ACTIVE_CLINICAL_STATUS.includes(s.code ?? '')),
  );
}

/** The patient's active MedicationStatements and MedicationRequests. */
export function activeOrders<T extends MedicationOrder>(found: T[], patientId: string): T[] {
  return found.filter((m) => m.status === ACTIVE_MEDICATION_STATUS && ofPatient(m, patientId));
}

/**
 * A medication order with its codes: from the order itself, a contained Medication, or the
 * Medication it references, which `read` fetches by id.
 */
export async function withMedicationCodes(
  resource: MedicationOrder,
  read: (id: string) => Promise<fhir4.Medication | undefined>,
): Promise<ActiveMedication> {
  const reference = resource.medicationReference?.reference;
  const key = reference && !reference.startsWith('#') ? referenceKey(reference) : undefined;
  const concept =
    resource.medicationCodeableConcept ??
    (reference?.startsWith('#')
      ? (resource.contained?.find((c) => c.id === reference.slice(1)) as fhir4.Medication | undefined)
      : key?.resourceType === 'Medication'
        ? await read(key.id)
        : undefined
    )?.code;
  return { resource, codings: concept?.coding ?? [], ...(concept?.text ? { text: concept.text } : {}) };
}

/** The Observation ids a focus groups: a DiagnosticReport's results, an Observation's members. */
export function memberIds(focus: fhir4.Resource | undefined): string[] {
  const references =
    focus?.resourceType === 'DiagnosticReport'
      ? (focus as fhir4.DiagnosticReport).result
      : focus?.resourceType === 'Observation'
        ? (focus as fhir4.Observation).hasMember
        : undefined;
  return (references ?? []).flatMap((r) => {
    const key = referenceKey(r.reference);
    return key?.resourceType === 'Observation' ? [key.id] : [];
  });
}

/** The focus's usable member Observations of this patient, in the order the focus lists them. */
export function recordedMembers(
  found: fhir4.Observation[],
  focus: fhir4.Resource | undefined,
  patientId: string,
): fhir4.Observation[] {
  const order = memberIds(focus);
  return found
    .filter((o) => o.id && order.includes(o.id) && usable(o) && ofPatient(o, patientId))
    .sort((a, b) => order.indexOf(a.id!) - order.indexOf(b.id!));
}

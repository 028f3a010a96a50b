import { fetchImageBytes, ImageRefusal } from '@aegle/imaging';
import { codingMatches } from '../coding-match';
import { observationTime } from '../inputs';
import { ActiveMedication, ImageBytes, ImageLocation, PatientData } from '../patient-data';

const UNUSABLE_STATUS = new Set(['entered-in-error', 'cancelled', 'registered']);
const ACTIVE_CLINICAL = new Set(['active', 'recurrence', 'relapse']);
const REFUTED = new Set(['refuted', 'entered-in-error']);

/**
 * {@link PatientData} over a FHIR Bundle (a searchset, collection or transaction of one patient's
 * record): what the offline harness and golden cases run on, with the same rules the engine applies
 * to the EHR's search results.
 */
export class BundlePatientData implements PatientData {
  private readonly resources: fhir4.Resource[];
  private readonly all: fhir4.Resource[];

  constructor(
    bundle: fhir4.Bundle,
    patientId?: string,
    /** The resource that triggered the run, whose members (report results) are inputs. */
    private readonly focus?: fhir4.Resource,
    /** The PACS of an offline run: DICOM files by SOP Instance UID. */
    private readonly dicomInstances: ReadonlyMap<string, Uint8Array> = new Map(),
  ) {
    this.all = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
    const all = this.all;
    const patient = all.find(
      (r): r is fhir4.Patient => r.resourceType === 'Patient' && (!patientId || r.id === patientId),
    );
    const id = patientId ?? patient?.id;
    this.resources = all.filter((r) =>
      r.resourceType === 'Patient' ? r.id === id || !id : belongsTo(r, id),
    );
  }

  async patient(): Promise<fhir4.Patient | undefined> {
    return this.resources.find((r): r is fhir4.Patient => r.resourceType === 'Patient');
  }

  async observations(codes: readonly string[], since?: Date): Promise<fhir4.Observation[]> {
    return this.ofType<fhir4.Observation>('Observation')
      .filter((o) => !UNUSABLE_STATUS.has(o.status))
      .filter((o) => (o.code.coding ?? []).some((c) => codingMatches(c, codes)))
      .filter((o) => !since || timeOf(o) >= Date.parse(since.toISOString().slice(0, 10)))
      .sort((a, b) => timeOf(b) - timeOf(a));
  }

  async activeConditions(): Promise<fhir4.Condition[]> {
    return (await this.conditions()).filter((c) =>
      (c.clinicalStatus?.coding ?? []).some((s) => ACTIVE_CLINICAL.has(s.code ?? '')),
    );
  }

  async conditions(): Promise<fhir4.Condition[]> {
    return this.ofType<fhir4.Condition>('Condition').filter(
      (c) => !c.verificationStatus?.coding?.some((v) => REFUTED.has(v.code ?? '')),
    );
  }

  async activeMedications(): Promise<ActiveMedication[]> {
    const orders = [
      ...this.ofType<fhir4.MedicationStatement>('MedicationStatement'),
      ...this.ofType<fhir4.MedicationRequest>('MedicationRequest'),
    ].filter((m) => m.status === 'active');
    return orders.map((resource) => {
      const concept = resource.medicationCodeableConcept ?? this.medication(resource)?.code;
      return { resource, codings: concept?.coding ?? [], ...(concept?.text ? { text: concept.text } : {}) };
    });
  }

  async members(): Promise<fhir4.Observation[]> {
    const focus = this.focus as { result?: fhir4.Reference[]; hasMember?: fhir4.Reference[] } | undefined;
    const references = [...(focus?.result ?? []), ...(focus?.hasMember ?? [])].flatMap((r) =>
      r.reference ? [r.reference] : [],
    );
    const ids = new Set(references.filter((r) => r.startsWith('Observation/')).map((r) => r.split('/')[1]));
    return this.ofType<fhir4.Observation>('Observation').filter(
      (o) => o.id && ids.has(o.id) && !UNUSABLE_STATUS.has(o.status),
    );
  }

  async imageBytes(location: ImageLocation, limits: { maxBytes: number }): Promise<ImageBytes> {
    if (location.kind === 'dicomweb') {
      const bytes = this.dicomInstances.get(location.instance);
      if (!bytes) throw new ImageRefusal(`the PACS has no instance ${location.instance}`);
      return { bytes, contentType: 'application/dicom' };
    }
    return fetchImageBytes(
      location,
      { read: async (type, id) => this.byId(type, id), dicomWeb: () => undefined },
      limits,
    );
  }

  private byId(type: string, id: string): fhir4.Resource | undefined {
    return this.all.find((r) => r.resourceType === type && r.id === id);
  }

  private medication(
    resource: fhir4.MedicationStatement | fhir4.MedicationRequest,
  ): fhir4.Medication | undefined {
    const reference = resource.medicationReference?.reference;
    if (!reference) return undefined;
    if (reference.startsWith('#'))
      return resource.contained?.find((c) => c.id === reference.slice(1)) as fhir4.Medication | undefined;
    const id = reference.split('/').at(-1);
    return this.allMedications().find((m) => m.id === id);
  }

  private allMedications(): fhir4.Medication[] {
    return this.ofType<fhir4.Medication>('Medication');
  }

  private ofType<T extends fhir4.Resource>(type: string): T[] {
    return this.resources.filter((r) => r.resourceType === type) as T[];
  }
}

function belongsTo(resource: fhir4.Resource, patientId: string | undefined): boolean {
  if (resource.resourceType === 'Medication' || !patientId) return true;
  const subject =
    (resource as { subject?: fhir4.Reference; patient?: fhir4.Reference }).subject ??
    (resource as { patient?: fhir4.Reference }).patient;
  return !subject?.reference || subject.reference === `Patient/${patientId}`;
}

function timeOf(o: fhir4.Observation): number {
  const time = Date.parse(observationTime(o) ?? '');
  return Number.isNaN(time) ? 0 : time;
}

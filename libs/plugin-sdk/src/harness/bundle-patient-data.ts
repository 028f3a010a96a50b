import { fetchImageBytes, ImageRefusal } from '@aegle/imaging';
import { ActiveMedication, ImageBytes, ImageLocation, PatientData } from '../patient-data';
import {
  activeConditions,
  activeOrders,
  recordedConditions,
  recordedMembers,
  recordedObservations,
  withMedicationCodes,
} from '../patient-record';

/**
 * {@link PatientData} over a FHIR Bundle (a searchset, collection or transaction of a patient's
 * record): what the offline harness and golden cases run on, with the rules of `patient-record`
 * that the engine applies to the EHR's search results.
 */
export class BundlePatientData implements PatientData {
  private readonly all: fhir4.Resource[];
  /** The patient the run is about: the one named, else the Bundle's (first) Patient. */
  private readonly patientId: string;

  constructor(
    bundle: fhir4.Bundle,
    patientId?: string,
    /** The resource that triggered the run, whose members (report results) are inputs. */
    private readonly focus?: fhir4.Resource,
    /** The PACS of an offline run: DICOM files by SOP Instance UID. */
    private readonly dicomInstances: ReadonlyMap<string, Uint8Array> = new Map(),
  ) {
    this.all = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
    this.patientId = patientId ?? this.ofType<fhir4.Patient>('Patient')[0]?.id ?? '';
  }

  async patient(): Promise<fhir4.Patient | undefined> {
    return this.byId('Patient', this.patientId) as fhir4.Patient | undefined;
  }

  async observations(codes: readonly string[], since?: Date): Promise<fhir4.Observation[]> {
    return recordedObservations(this.ofType('Observation'), this.patientId, codes, since);
  }

  async activeConditions(): Promise<fhir4.Condition[]> {
    return activeConditions(this.ofType('Condition'), this.patientId);
  }

  async conditions(): Promise<fhir4.Condition[]> {
    return recordedConditions(this.ofType('Condition'), this.patientId);
  }

  async activeMedications(): Promise<ActiveMedication[]> {
    const orders = activeOrders(
      [
        ...this.ofType<fhir4.MedicationStatement>('MedicationStatement'),
        ...this.ofType<fhir4.MedicationRequest>('MedicationRequest'),
      ],
      this.patientId,
    );
    return Promise.all(
      orders.map((order) =>
        withMedicationCodes(order, async (id) => this.byId('Medication', id) as fhir4.Medication | undefined),
      ),
    );
  }

  async members(): Promise<fhir4.Observation[]> {
    return recordedMembers(this.ofType('Observation'), this.focus, this.patientId);
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

  private ofType<T extends fhir4.Resource>(type: string): T[] {
    return this.all.filter((r) => r.resourceType === type) as T[];
  }
}

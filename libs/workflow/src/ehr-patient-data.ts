import { ActiveMedication, PatientData } from '@aegle/plugin-sdk';
import { EhrClient, parseReference } from '@aegle/fhir';

const UNUSABLE_STATUS = new Set(['entered-in-error', 'cancelled', 'registered']);
const REFUTED = new Set(['refuted', 'entered-in-error']);

/** {@link PatientData} read from the EHR's FHIR API, each search made at most once per run. */
export class EhrPatientData implements PatientData {
  private readonly cache = new Map<string, Promise<unknown>>();

  constructor(
    private readonly client: EhrClient,
    private readonly patientId: string,
    /** The resource that triggered the run; its members are read on demand. */
    private readonly focus?: fhir4.Resource,
  ) {}

  patient(): Promise<fhir4.Patient | undefined> {
    return this.once('patient', () => this.client.read<fhir4.Patient>('Patient', this.patientId));
  }

  observations(codes: readonly string[], since?: Date): Promise<fhir4.Observation[]> {
    const key = `obs|${codes.join(',')}|${since?.toISOString() ?? ''}`;
    return this.once(key, async () => {
      const found = await this.client.search<fhir4.Observation>('Observation', {
        patient: this.patientId,
        code: codes.join(','),
        _sort: '-date',
        _count: 50,
        ...(since ? { date: `ge${since.toISOString().slice(0, 10)}` } : {}),
      });
      return found.filter((o) => !UNUSABLE_STATUS.has(o.status)).sort(newestFirst);
    });
  }

  activeConditions(): Promise<fhir4.Condition[]> {
    return this.once('conditions', async () => {
      const found = await this.client.search<fhir4.Condition>('Condition', {
        patient: this.patientId,
        'clinical-status': 'active,recurrence,relapse',
      });
      return found.filter((c) => !c.verificationStatus?.coding?.some((v) => REFUTED.has(v.code ?? '')));
    });
  }

  activeMedications(): Promise<ActiveMedication[]> {
    return this.once('medications', async () => {
      const [statements, requests] = await Promise.all([
        this.client.search<fhir4.MedicationStatement>('MedicationStatement', {
          patient: this.patientId,
          status: 'active',
        }),
        this.client.search<fhir4.MedicationRequest>('MedicationRequest', {
          patient: this.patientId,
          status: 'active',
        }),
      ]);
      return Promise.all([...statements, ...requests].map((resource) => this.resolveMedication(resource)));
    });
  }

  members(): Promise<fhir4.Observation[]> {
    return this.once('members', async () => {
      const references = memberReferences(this.focus);
      const ids = references
        .map((r) => parseReference(r))
        .filter((k) => k?.resourceType === 'Observation')
        .map((k) => k!.id);
      const found: fhir4.Observation[] = [];
      // One search per 50 members instead of one read each.
      for (let i = 0; i < ids.length; i += 50) {
        found.push(
          ...(await this.client.search<fhir4.Observation>('Observation', {
            _id: ids.slice(i, i + 50).join(','),
            _count: 50,
          })),
        );
      }
      return found.filter(
        (o) => !UNUSABLE_STATUS.has(o.status) && o.subject?.reference === `Patient/${this.patientId}`,
      );
    });
  }

  /** Medication codes live on the resource or on a referenced (or contained) Medication. */
  private async resolveMedication(
    resource: fhir4.MedicationStatement | fhir4.MedicationRequest,
  ): Promise<ActiveMedication> {
    const concept = resource.medicationCodeableConcept;
    if (concept) return { resource, codings: concept.coding ?? [], text: concept.text };
    const reference = resource.medicationReference?.reference;
    if (!reference) return { resource, codings: [] };
    if (reference.startsWith('#')) {
      const contained = resource.contained?.find((c) => c.id === reference.slice(1)) as
        fhir4.Medication | undefined;
      return { resource, codings: contained?.code?.coding ?? [], text: contained?.code?.text };
    }
    const key = parseReference(reference);
    const medication = key && (await this.client.read<fhir4.Medication>('Medication', key.id));
    return { resource, codings: medication?.code?.coding ?? [], text: medication?.code?.text };
  }

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.cache.has(key)) this.cache.set(key, load());
    return this.cache.get(key) as Promise<T>;
  }
}

function effectiveOf(o: fhir4.Observation): string {
  return o.effectiveDateTime ?? o.effectivePeriod?.end ?? o.effectivePeriod?.start ?? o.issued ?? '';
}

function timeOf(o: fhir4.Observation): number {
  const time = Date.parse(effectiveOf(o));
  return Number.isNaN(time) ? 0 : time;
}

function newestFirst(a: fhir4.Observation, b: fhir4.Observation): number {
  return timeOf(b) - timeOf(a);
}

function memberReferences(focus: fhir4.Resource | undefined): string[] {
  if (focus?.resourceType === 'DiagnosticReport')
    return ((focus as fhir4.DiagnosticReport).result ?? []).flatMap((r) =>
      r.reference ? [r.reference] : [],
    );
  if (focus?.resourceType === 'Observation')
    return ((focus as fhir4.Observation).hasMember ?? []).flatMap((r) => (r.reference ? [r.reference] : []));
  return [];
}

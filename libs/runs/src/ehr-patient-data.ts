import {
  ACTIVE_CLINICAL_STATUS,
  ACTIVE_MEDICATION_STATUS,
  ActiveMedication,
  activeConditions,
  activeOrders,
  GENOTYPE_CODE,
  ImageBytes,
  ImageLocation,
  memberIds,
  PatientData,
  PluginManifest,
  recordedConditions,
  recordedMembers,
  recordedObservations,
  since,
  windowStart,
  withMedicationCodes,
} from '@aegle/plugin-sdk/engine';
import { BatchSearch, EhrClient, EhrRequestError } from '@aegle/fhir';
import type { InstanceSummary, StudyReference } from '@aegle/imaging';
import { fetchSourceImage, ImagingSource, listSourceStudyInstances } from './ehr-images';

/**
 * {@link PatientData} read from the EHR's FHIR API, each search made at most once per run. The
 * searches only narrow what is fetched; which resources count is `patient-record`'s rules, the
 * same the offline harness applies to a Bundle.
 */
export class EhrPatientData implements PatientData {
  private readonly cache = new Map<string, Promise<unknown>>();

  constructor(
    private readonly client: EhrClient,
    private readonly patientId: string,
    /** The resource that triggered the run; its members are read on demand. */
    private readonly focus?: fhir4.Resource,
    /** The source's FHIR base and PACS, for image inputs. */
    private readonly imaging?: ImagingSource,
  ) {}

  imageBytes(location: ImageLocation, limits: { maxBytes: number }): Promise<ImageBytes> {
    return fetchSourceImage(this.client, this.imaging, location, limits);
  }

  studyInstances(study: StudyReference): Promise<InstanceSummary[]> {
    return listSourceStudyInstances(this.client, this.imaging, study);
  }

  patient(): Promise<fhir4.Patient | undefined> {
    return this.once('patient', () => this.client.read<fhir4.Patient>('Patient', this.patientId));
  }

  observations(codes: readonly string[], since?: Date): Promise<fhir4.Observation[]> {
    return this.once(observationsKey(codes, since), async () =>
      recordedObservations(
        await this.client.search<fhir4.Observation>('Observation', this.observationParams(codes, since)),
        this.patientId,
        codes,
        since,
      ),
    );
  }

  activeConditions(): Promise<fhir4.Condition[]> {
    return this.once('conditions', async () =>
      activeConditions(
        await this.client.search<fhir4.Condition>('Condition', this.conditionParams()),
        this.patientId,
      ),
    );
  }

  conditions(): Promise<fhir4.Condition[]> {
    return this.once('all-conditions', async () =>
      recordedConditions(
        await this.client.search<fhir4.Condition>('Condition', { patient: this.patientId }),
        this.patientId,
      ),
    );
  }

  activeMedications(): Promise<ActiveMedication[]> {
    return this.once('medications', async () => {
      const [statements, requests] = await Promise.all(
        this.medicationSearches().map((s) => this.client.search<MedicationOrder>(s.resourceType, s.params)),
      );
      return this.resolveMedications([...statements, ...requests]);
    });
  }

  /**
   * Reads what the plugin's declared inputs will ask for in one `batch` round trip instead of one
   * request each, when the EHR announces batch support. Whatever the batch could not answer (or an
   * EHR without batch, or one that refuses it) is read on demand as before, so this only ever saves
   * requests; a batch answered 429 or 503 throws instead, for the job to retry later. `extra`
   * searches ride in the same batch; their matches are kept for {@link prefetched}.
   */
  async prefetch(
    manifest: PluginManifest,
    now: Date,
    extra: Array<{ key: string; search: BatchSearch }> = [],
  ): Promise<void> {
    const reads = new Map<
      string,
      { searches: BatchSearch[]; fill: (found: fhir4.Resource[][]) => unknown }
    >();
    for (const { source } of manifest.inputs) {
      if (source.from === 'patient' || source.from === 'age') {
        reads.set('patient', {
          searches: [{ resourceType: 'Patient', params: { _id: this.patientId } }],
          fill: ([found]) => found[0] as fhir4.Patient | undefined,
        });
      } else if (source.from === 'observation' || source.from === 'genotype') {
        const codes = source.from === 'genotype' ? [GENOTYPE_CODE] : source.codes;
        const from = since(now, source.lookback);
        reads.set(observationsKey(codes, from), {
          searches: [{ resourceType: 'Observation', params: this.observationParams(codes, from) }],
          fill: ([found]) => recordedObservations(found as fhir4.Observation[], this.patientId, codes, from),
        });
      } else if (source.from === 'condition') {
        reads.set('conditions', {
          searches: [{ resourceType: 'Condition', params: this.conditionParams() }],
          fill: ([found]) => activeConditions(found as fhir4.Condition[], this.patientId),
        });
      } else if (source.from === 'medication') {
        reads.set('medications', {
          searches: this.medicationSearches(),
          fill: ([statements, requests]) =>
            this.resolveMedications([...statements, ...requests] as MedicationOrder[]),
        });
      }
    }
    for (const exclusion of manifest.exclusions) {
      if (exclusion.condition?.status === 'any') {
        reads.set('all-conditions', {
          searches: [{ resourceType: 'Condition', params: { patient: this.patientId } }],
          fill: ([found]) => recordedConditions(found as fhir4.Condition[], this.patientId),
        });
      } else if (exclusion.condition) {
        reads.set('conditions', {
          searches: [{ resourceType: 'Condition', params: this.conditionParams() }],
          fill: ([found]) => activeConditions(found as fhir4.Condition[], this.patientId),
        });
      } else if (exclusion.observation) {
        const from = since(now, exclusion.observation.lookback);
        reads.set(observationsKey(exclusion.observation.codes, from), {
          searches: [
            {
              resourceType: 'Observation',
              params: this.observationParams(exclusion.observation.codes, from),
            },
          ],
          fill: ([found]) =>
            recordedObservations(
              found as fhir4.Observation[],
              this.patientId,
              exclusion.observation!.codes,
              from,
            ),
        });
      }
    }
    for (const { key, search } of extra) {
      reads.set(extraKey(key), { searches: [search], fill: ([found]) => found });
    }
    const pending = [...reads].filter(([key]) => !this.cache.has(key));
    if (pending.length < 2 || !(await this.client.supportsBatch())) return;
    const searches = pending.flatMap(([, read]) => read.searches);
    let answers: Array<fhir4.Resource[] | EhrRequestError>;
    try {
      answers = await this.client.searchBatch(searches);
    } catch (error) {
      // An EHR that says it is busy gets fewer requests, not one per input: the job backs off.
      if (error instanceof EhrRequestError && error.busy) throw error;
      return; // each input is read on its own instead
    }
    let next = 0;
    for (const [key, read] of pending) {
      const mine = answers.slice(next, (next += read.searches.length));
      if (mine.some((a) => a instanceof EhrRequestError) || this.cache.has(key)) continue;
      this.cache.set(key, Promise.resolve(read.fill(mine as fhir4.Resource[][])));
    }
  }

  /** The matches of one of {@link prefetch}'s extra searches; undefined when the batch did not answer it. */
  prefetched<T extends fhir4.Resource>(key: string): Promise<T[]> | undefined {
    return this.cache.get(extraKey(key)) as Promise<T[]> | undefined;
  }

  private observationParams(codes: readonly string[], since?: Date): BatchSearch['params'] {
    return {
      patient: this.patientId,
      code: codes.join(','),
      _sort: '-date',
      _count: 50,
      ...(since ? { date: `ge${windowStart(since)}` } : {}),
    };
  }

  private conditionParams(): BatchSearch['params'] {
    return { patient: this.patientId, 'clinical-status': ACTIVE_CLINICAL_STATUS.join(',') };
  }

  private medicationSearches(): BatchSearch[] {
    return ['MedicationStatement', 'MedicationRequest'].map((resourceType) => ({
      resourceType,
      params: { patient: this.patientId, status: ACTIVE_MEDICATION_STATUS },
    }));
  }

  private resolveMedications(orders: MedicationOrder[]): Promise<ActiveMedication[]> {
    return Promise.all(
      activeOrders(orders, this.patientId).map((order) =>
        withMedicationCodes(order, (id) => this.client.read<fhir4.Medication>('Medication', id)),
      ),
    );
  }

  members(): Promise<fhir4.Observation[]> {
    return this.once('members', async () => {
      const ids = memberIds(this.focus);
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
      return recordedMembers(found, this.focus, this.patientId);
    });
  }

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.cache.has(key)) this.cache.set(key, load());
    return this.cache.get(key) as Promise<T>;
  }
}

type MedicationOrder = fhir4.MedicationStatement | fhir4.MedicationRequest;

function extraKey(key: string): string {
  return `extra|${key}`;
}

function observationsKey(codes: readonly string[], since?: Date): string {
  return `obs|${codes.join(',')}|${since?.toISOString() ?? ''}`;
}

import type { BatchSearch } from '@aegle/fhir';
import type { PluginManifest } from '@aegle/plugin-sdk';

/** The search for a result's earlier versions: subject and code only, which every EHR supports. */
export function earlierResultsSearch(patientRef: string, code: string): BatchSearch {
  return { resourceType: 'Observation', params: { subject: patientRef, code, _count: 100 } };
}

/** The codes (`system|code`) of the Observations a plugin writes: what its results supersede. */
export function resultCodes(manifest: PluginManifest): string[] {
  return [...new Set(manifest.outputs.map((o) => `${o.code.system}|${o.code.code}`))];
}

/**
 * Aegle's earlier results for a run's patient, read in the same batch as the run's inputs, for the
 * run's first write-back attempt, which then sends the EHR no search of its own (see ResultWriter).
 */
export interface SeenResults {
  /** When the read was sent: results written after it are not in it. */
  at: Date;
  /** The search's matches per result code, as {@link earlierResultsSearch} would find them. */
  byCode: Map<string, fhir4.Observation[]>;
}

import { Injectable } from '@nestjs/common';
import type { BatchSearch } from '@aegle/fhir';
import type { PluginManifest } from '@aegle/plugin-sdk';

/** How long a run's read of earlier results may stand in for its write-back's own search. */
const MAX_AGE_MS = 60_000;
/** Runs' reads kept at most: a write-back taken by another process never collects its entry. */
const MAX_KEPT = 5_000;

/** The search for a result's earlier versions: subject and code only, which every EHR supports. */
export function earlierResultsSearch(patientRef: string, code: string): BatchSearch {
  return { resourceType: 'Observation', params: { subject: patientRef, code, _count: 100 } };
}

/** The codes (`system|code`) of the Observations a plugin writes: what its results supersede. */
export function resultCodes(manifest: PluginManifest): string[] {
  return [...new Set(manifest.outputs.map((o) => `${o.code.system}|${o.code.code}`))];
}

export interface SeenResults {
  /** When the read was sent: results written after it are not in it. */
  at: Date;
  /** The search's matches per result code, as {@link earlierResultsSearch} would find them. */
  byCode: Map<string, fhir4.Observation[]>;
}

/**
 * Aegle's earlier results for a run's patient, read in the same batch as the run's inputs and kept
 * in this process for the run's first write-back attempt, which then sends the EHR no search of
 * its own. The write-back uses them only when no other result of the plugin for the patient was
 * recorded since they were read (see WritebackProcessor); a retry, or a write-back taken by
 * another process, searches as before.
 */
@Injectable()
export class EarlierResults {
  private readonly kept = new Map<string, SeenResults>();

  keep(runId: string, seen: SeenResults): void {
    for (const [id, old] of this.kept) {
      if (this.kept.size < MAX_KEPT && Date.now() - old.at.getTime() < MAX_AGE_MS) break;
      this.kept.delete(id);
    }
    this.kept.set(runId, seen);
  }

  /** The run's kept read, once; undefined when there is none or it is too old to trust. */
  take(runId: string): SeenResults | undefined {
    const seen = this.kept.get(runId);
    this.kept.delete(runId);
    return seen && Date.now() - seen.at.getTime() < MAX_AGE_MS ? seen : undefined;
  }
}

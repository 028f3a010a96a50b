import { randomUUID } from 'node:crypto';
import { SupersedeMode } from '@aegle/config';
import { BatchSearch, EhrRequestError } from '@aegle/fhir';
import {
  buildProvenance,
  observationTime,
  OBSERVATION_REPLACES_EXTENSION,
  RESULT_IDENTIFIER_SYSTEM,
  SUPERSEDED_BY_EXTENSION,
  supersedeObservation,
} from '@aegle/plugin-sdk/engine';

/** What one result's transaction wrote, read back from the transaction-response Bundle. */
export interface ResultWritten {
  observationId: string;
  /** False when the conditional create found the Observation already there. */
  created: boolean;
  /** Ids of earlier Observations this transaction marked superseded. */
  superseded: string[];
}

/**
 * What the transaction-response says was written. The Observation's id comes from its entry's
 * resource or location; an answer with neither (`Prefer: return=minimal` and no location) leaves it
 * to {@link ResultTransaction.observationSearch}.
 */
export type ResultRead = Omit<ResultWritten, 'observationId'> & { observationId: string | undefined };

export interface ResultTransaction {
  bundle: fhir4.Bundle;
  /** What was written, once every entry is answered 2xx; else throws {@link PartialWriteError}. */
  read(response: fhir4.Bundle): ResultRead;
  /** The search that finds the result's Observation by its identifier. */
  observationSearch: BatchSearch;
}

/**
 * Some entries of a result's transaction failed. When others landed, the EHR did not carry the
 * transaction out atomically (Medplum without the `transaction-bundles` project feature runs it as a
 * batch and answers 200): the result is not written until every entry is. The error's status is the
 * failed entries' worst (a refusal before a transient fault), so it is retried or dead-lettered
 * like any EHR error.
 */
export class PartialWriteError extends EhrRequestError {
  constructor(
    /** Entries that landed: more than none means the EHR is not atomic. */
    readonly landed: number,
    /** Whether the Observation was created by this transaction, though the rest was not. */
    readonly observationCreated: boolean,
    failed: Array<{ what: string; status: number | undefined; outcome?: fhir4.OperationOutcome }>,
  ) {
    const worst = failed.find((f) => !new EhrRequestError(f.status, undefined, '').retryable) ?? failed[0];
    super(
      worst.status,
      worst.outcome,
      `the EHR answered the result's transaction with ${failed.length} failed entr${failed.length === 1 ? 'y' : 'ies'} ` +
        `(${failed.map((f) => `${f.what}: ${f.status ?? 'no answer'}`).join(', ')})` +
        (landed > 0 ? ` while ${landed} landed: it is not atomic` : ''),
    );
    this.name = 'PartialWriteError';
  }
}

const DONE = /^(entered-in-error|cancelled)$/;

/** Aegle Observations already in the EHR for this plugin, patient and code that no newer one superseded. */
export function liveEarlierResults(candidates: fhir4.Observation[], identifier: string): fhir4.Observation[] {
  return candidates.filter(
    (o) =>
      !DONE.test(o.status) &&
      !o.extension?.some((e) => e.url === SUPERSEDED_BY_EXTENSION) &&
      o.identifier?.some((i) => i.system === RESULT_IDENTIFIER_SYSTEM) &&
      !o.identifier?.some((i) => i.system === RESULT_IDENTIFIER_SYSTEM && i.value === identifier),
  );
}

const clinicalTime = (o: fhir4.Observation): number => Date.parse(observationTime(o) ?? '') || 0;

/**
 * One result as one transaction: the Observation (conditional on its identifier), its Provenance
 * (conditional on targeting it, so a retry never adds a second) and, when newer inputs made it,
 * the supersession of the earlier results (version-checked with If-Match). Either all land or none.
 */
export function resultTransaction(input: {
  observation: fhir4.Observation;
  identifier: string;
  provenance: Omit<Parameters<typeof buildProvenance>[0], 'target'>;
  earlier: fhir4.Observation[];
  mode: SupersedeMode;
  now: string;
}): ResultTransaction {
  const observationUrl = `urn:uuid:${randomUUID()}`;
  const mine = clinicalTime(input.observation);
  const older = input.mode === 'none' ? [] : input.earlier.filter((o) => clinicalTime(o) <= mine);
  const newer = input.mode === 'none' ? [] : input.earlier.filter((o) => clinicalTime(o) > mine);
  const latestNewer = newer.sort((a, b) => clinicalTime(b) - clinicalTime(a))[0];
  const mode = input.mode === 'none' ? undefined : input.mode;

  let observation = input.observation;
  const latestOlder = [...older].sort((a, b) => clinicalTime(b) - clinicalTime(a))[0];
  if (latestOlder) {
    observation = {
      ...observation,
      extension: [
        ...(observation.extension ?? []).filter((e) => e.url !== OBSERVATION_REPLACES_EXTENSION),
        {
          url: OBSERVATION_REPLACES_EXTENSION,
          valueReference: { reference: `Observation/${latestOlder.id}` },
        },
      ],
    };
  }
  // Inputs older than a result already written (a late retry or replay): it lands already superseded.
  if (mode && latestNewer) {
    observation = supersedeObservation(observation, {
      by: `Observation/${latestNewer.id}`,
      mode,
      at: input.now,
    });
  }

  const entries: fhir4.BundleEntry[] = [
    {
      fullUrl: observationUrl,
      resource: observation,
      request: {
        method: 'POST',
        url: 'Observation',
        ifNoneExist: `identifier=${RESULT_IDENTIFIER_SYSTEM}|${input.identifier}`,
      },
    },
    {
      fullUrl: `urn:uuid:${randomUUID()}`,
      resource: buildProvenance({ ...input.provenance, target: observationUrl }),
      request: { method: 'POST', url: 'Provenance', ifNoneExist: `target=${observationUrl}` },
    },
  ];
  if (mode) {
    for (const earlier of older) {
      entries.push({
        fullUrl: `Observation/${earlier.id}`,
        resource: supersedeObservation(earlier, { by: observationUrl, mode, at: input.now }),
        request: {
          method: 'PUT',
          url: `Observation/${earlier.id}`,
          ...(earlier.meta?.versionId ? { ifMatch: `W/"${earlier.meta.versionId}"` } : {}),
        },
      });
    }
  }

  return {
    bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries },
    observationSearch: {
      resourceType: 'Observation',
      params: { identifier: `${RESULT_IDENTIFIER_SYSTEM}|${input.identifier}` },
    },
    read(response) {
      const answers = response.entry ?? [];
      const failed = entries.flatMap((sent, i) => {
        const answer = answers[i]?.response;
        const status = answer ? Number.parseInt(answer.status, 10) : undefined;
        if (status !== undefined && status >= 200 && status < 300) return [];
        const outcome = answer?.outcome as fhir4.OperationOutcome | undefined;
        return [{ what: describeEntry(sent), status: status || undefined, ...(outcome ? { outcome } : {}) }];
      });
      if (failed.length > 0) {
        const created = (answers[0]?.response?.status ?? '').startsWith('201');
        throw new PartialWriteError(entries.length - failed.length, created, failed);
      }
      const first = answers[0];
      return {
        observationId: first?.resource?.id ?? idFromLocation(first?.response?.location),
        created: (first?.response?.status ?? '').startsWith('201'),
        superseded: mode ? older.map((o) => o.id!) : [],
      };
    },
  };
}

/** An entry as the audit trail names it: no resource content. */
function describeEntry(entry: fhir4.BundleEntry): string {
  const { method, url } = entry.request!;
  return method === 'PUT' ? `supersession of ${url}` : url;
}

function idFromLocation(location: string | undefined): string | undefined {
  return location?.match(/Observation\/([^/]+)/)?.[1];
}

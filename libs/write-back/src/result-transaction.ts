import { randomUUID } from 'node:crypto';
import { SupersedeMode } from '@aegle/config';
import {
  buildProvenance,
  observationTime,
  OBSERVATION_REPLACES_EXTENSION,
  RESULT_IDENTIFIER_SYSTEM,
  SUPERSEDED_BY_EXTENSION,
  supersedeObservation,
} from '@aegle/plugin-sdk';

/** What one result's transaction wrote, read back from the transaction-response Bundle. */
export interface ResultWritten {
  observationId: string;
  /** False when the conditional create found the Observation already there. */
  created: boolean;
  /** Ids of earlier Observations this transaction marked superseded. */
  superseded: string[];
}

export interface ResultTransaction {
  bundle: fhir4.Bundle;
  read(response: fhir4.Bundle): ResultWritten;
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
    read(response) {
      const first = response.entry?.[0];
      const id = first?.resource?.id ?? idFromLocation(first?.response?.location);
      if (!id) throw new Error('the transaction response names no Observation');
      return {
        observationId: id,
        created: (first?.response?.status ?? '').startsWith('201'),
        superseded: mode ? older.map((o) => o.id!) : [],
      };
    },
  };
}

function idFromLocation(location: string | undefined): string | undefined {
  return location?.match(/Observation\/([^/]+)/)?.[1];
}

import { randomUUID } from 'node:crypto';
import { AuditStore } from './audit-db';

/**
 * Rows of the work's state (events, runs, write-backs) written through the real repositories, for
 * the specs that check how PostgreSQL judges what is unfinished (claims, the work reconciler).
 */
export function workRows(store: AuditStore) {
  return {
    /** Stores version `version` of Observation `focusId` as an accepted event; returns its id. */
    async event(focusId: string, version: string, lastUpdated?: string): Promise<string> {
      const resource = {
        resourceType: 'Observation',
        id: focusId,
        meta: { versionId: version, ...(lastUpdated ? { lastUpdated } : {}) },
      } as fhir4.Resource;
      const { accepted } = await store.events.record(
        {
          sourceId: 'test-ehr',
          shape: 'rest-hook-resource',
          contentType: 'application/fhir+json',
          bodySha256: randomUUID(),
          bodyBytes: 100,
          headers: {},
          httpStatus: 200,
          error: null,
        },
        [
          {
            subscription: null,
            topic: null,
            eventNumber: null,
            interaction: 'update',
            focusType: 'Observation',
            focusId,
            focusVersion: version,
            resource,
            dedupKey: `test-ehr|Observation/${focusId}/_history/${version}`,
          },
        ],
      );
      return accepted[0];
    },

    openRun(eventId: string, mode: 'live' | 'shadow' = 'live'): Promise<string> {
      return store.runs.open(runOf(eventId, mode));
    },

    /** Opens a run per mode on the event and records it as routed, as the router does: the runs' ids. */
    async route(eventId: string, modes: Array<'live' | 'shadow'>): Promise<string[]> {
      const runs = await store.runs.openAndRoute(
        eventId,
        modes.map((mode) => runOf(eventId, mode)),
        null,
      );
      return runs.map((run) => run.id);
    },

    /** A finished run; with `findings`, one result to write back (as a plugin's usual run has). */
    succeed(runId: string, findings = 1): Promise<void> {
      return store.runs.complete(runId, {
        outcome: 'succeeded',
        patientRef: 'Patient/p1',
        latencyMs: 1,
        outputs: {
          raw: {},
          findings: Array.from({ length: findings }, () => ({
            tensor: 'risk',
            code: { system: 'http://loinc.org', code: '79423-0' },
            value: 0.1,
          })),
          effective: '2026-01-01T00:00:00Z',
          sources: [],
          focus: 'Observation/x',
        },
      });
    },

    writeBack(runId: string, outcome: 'created' | 'retrying' | 'dead'): Promise<unknown> {
      return store.writeBacks.record({
        runId,
        sourceId: 'test-ehr',
        resourceType: 'Observation',
        resourceId: outcome === 'created' ? randomUUID() : null,
        identifier: '',
        attempt: 1,
        httpStatus: outcome === 'created' ? 201 : 503,
        outcome,
        response: null,
      });
    },
  };
}

/** A run of a plugin of its own on the event. */
function runOf(eventId: string, mode: 'live' | 'shadow') {
  return {
    eventId,
    sourceId: 'test-ehr',
    pluginId: `plugin-${randomUUID()}`,
    pluginVersion: '1.0.0',
    modelSha256: 'a'.repeat(64),
    mode,
  };
}

export type WorkRows = ReturnType<typeof workRows>;

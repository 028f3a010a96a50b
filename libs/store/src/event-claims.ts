import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Audited, AuditChain, BatchedWrite, contentHashSql } from './audit-chain';
import { EventEntity } from './entities';
import { PreparedStatement } from './prepared-statement';
import { awaitsWriteBackSql, gaveUpSql } from './unfinished-work';

/** What the router needs of an event it has claimed. */
export type ClaimedEvent = Pick<
  EventEntity,
  'id' | 'sourceId' | 'interaction' | 'focusType' | 'focusId' | 'focusVersion' | 'resource'
>;

/**
 * The answer to a claim:
 * - `claimed`: this event is the resource's version to route now;
 * - `stale`: a newer version was claimed first, so this one was recorded as stale and is skipped;
 * - `wait`: an older version of the resource is still being processed: try again shortly;
 * - `done`: nothing to do (no such event, or it was already routed, skipped or failed).
 */
export type Claim = { verdict: 'claimed'; event: ClaimedEvent } | { verdict: 'stale' | 'wait' | 'done' };

/**
 * A routing claim unrenewed for this long no longer holds back newer versions. Every routing attempt
 * renews it, and attempts are at most a minute or so apart (retry backoff, stalled-job detection);
 * this only frees a resource whose routing job vanished without a trace.
 */
export const CLAIM_LEASE_SQL = "interval '5 minutes'";

/** SQL: `a` is a newer version of the same resource than `b` (numbers as numbers, else lastUpdated). */
function newerVersion(a: string, b: string): string {
  const instant = (alias: string) => `${alias}.resource->'meta'->>'lastUpdated'`;
  return `CASE
      WHEN ${a}.focus_version ~ '^[0-9]{1,18}$' AND ${b}.focus_version ~ '^[0-9]{1,18}$'
        THEN ${a}.focus_version::bigint > ${b}.focus_version::bigint
      -- Opaque versions (UUIDs, as Medplum's): the resources' UTC lastUpdated instants decide.
      ELSE ${instant(a)} ~ '^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$' AND ${instant(b)} ~ '^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$'
        AND ${instant(a)} > ${instant(b)}
    END`;
}

/**
 * SQL: event `o` is still being processed: claimed and being routed, or routed with a run that has
 * not reached its end (pending, or a result not yet written to the EHR nor dead-lettered). A job
 * that gave up for good (a failed job) ends it too, so nothing blocks a resource forever.
 */
function inFlight(o: string): string {
  return `(
      (${o}.status = 'accepted' AND ${o}.claimed_at > now() - ${CLAIM_LEASE_SQL} AND NOT ${gaveUpSql(`${o}.id`)})
      OR (${o}.status = 'routed' AND EXISTS (
        SELECT 1 FROM plugin_run r WHERE r.event_id = ${o}.id AND (
          (r.outcome = 'pending' AND NOT ${gaveUpSql('r.id')}) OR ${awaitsWriteBackSql('r')}))))`;
}

const SAME_RESOURCE = (o: string, me: string) =>
  `${o}.source_id = ${me}.source_id AND ${o}.focus_type = ${me}.focus_type AND ${o}.focus_id = ${me}.focus_id
   AND ${o}.id <> ${me}.id`;

/**
 * Serialises claims per resource across every process: one transaction-scoped advisory lock per
 * resource, taken in key order (so two batches cannot deadlock), before the claim statement reads
 * anything. Under READ COMMITTED that statement then sees every claim committed before it.
 */
const LOCK = new PreparedStatement<unknown>(
  'aegle_claim_lock',
  `SELECT pg_advisory_xact_lock(key) FROM (
    SELECT DISTINCT hashtextextended(source_id || '/' || focus_type || '/' || focus_id, 9) AS key
    FROM event WHERE id = ANY($1::uuid[]) AND status = 'accepted' ORDER BY key) keys`,
);

/**
 * Reads the events, marks stale (and chains) those a newer version was claimed before, and claims
 * those no older version is holding up, in one statement; a row (jsonb) per event. Within a batch only one event per resource (the newest)
 * is decided; the others wait for the next round, which sees that decision.
 */
const CLAIM = new PreparedStatement<{ row: ClaimRow }>(
  'aegle_claim',
  `WITH me AS (
    SELECT e.*, row_number() OVER (
             PARTITION BY e.source_id, e.focus_type, e.focus_id
             ORDER BY CASE WHEN e.focus_version ~ '^[0-9]{1,18}$' THEN e.focus_version::bigint END DESC NULLS LAST,
                      e.resource->'meta'->>'lastUpdated' DESC NULLS LAST, e.id) AS turn
    FROM event e WHERE e.id = ANY($1::uuid[]) AND e.status = 'accepted'
  ), verdict AS (
    SELECT me.id, me.turn,
      (SELECT o.focus_version FROM event o
       WHERE ${SAME_RESOURCE('o', 'me')}
         AND (o.status = 'routed' OR (o.status = 'accepted' AND o.claimed_at IS NOT NULL))
         AND ${newerVersion('o', 'me')}
       LIMIT 1) AS newer,
      EXISTS (SELECT 1 FROM event o
              WHERE ${SAME_RESOURCE('o', 'me')} AND ${newerVersion('me', 'o')} AND ${inFlight('o')}) AS held
    FROM me
  ), stale AS (
    UPDATE event e SET status = 'stale',
      reason = 'a newer version (' || v.newer || ') of this resource was processed first'
    FROM verdict v WHERE e.id = v.id AND v.turn = 1 AND v.newer IS NOT NULL
    RETURNING e.id, ${contentHashSql('event', 'e')} AS content_sha256
  ), claimed AS (
    UPDATE event e SET claimed_at = now()
    FROM verdict v WHERE e.id = v.id AND v.turn = 1 AND v.newer IS NULL AND NOT v.held
    RETURNING e.id, e.source_id, e.interaction, e.focus_type, e.focus_id, e.focus_version, e.resource
  ), linked AS (
    SELECT audit_append(array_agg('event'::text ORDER BY id), array_agg(id::text ORDER BY id),
                        array_agg('stale'::text ORDER BY id), array_agg(content_sha256 ORDER BY id))
    FROM stale
  )
  SELECT jsonb_build_object(
           'id', me.id::text,
           'verdict', CASE WHEN c.id IS NOT NULL THEN 'claimed' WHEN s.id IS NOT NULL THEN 'stale' ELSE 'wait' END,
           'source_id', c.source_id, 'interaction', c.interaction, 'focus_type', c.focus_type,
           'focus_id', c.focus_id, 'focus_version', c.focus_version, 'resource', c.resource) AS row
  FROM linked, me LEFT JOIN claimed c ON c.id = me.id LEFT JOIN stale s ON s.id = me.id`,
);

interface ClaimRow {
  id: string;
  verdict: 'claimed' | 'stale' | 'wait';
  source_id: string | null;
  interaction: string | null;
  focus_type: string | null;
  focus_id: string | null;
  focus_version: string | null;
  resource: fhir4.Resource | null;
}

/**
 * Per-resource ordering for the router, across any number of workers: events of one resource are
 * routed in version order, and each only once the previous version's routing and runs have ended
 * (result written or dead-lettered, run skipped or failed, job given up). A late older version is
 * marked stale in the audit chain. Claims from concurrent callers share one statement per batch,
 * whatever its size, which takes the resources' locks, claims and chains what it marked stale.
 */
@Injectable()
export class EventClaims implements BatchedWrite<string, Claim> {
  readonly linksItself = true;

  constructor(private readonly chain: AuditChain) {}

  claim(eventId: string): Promise<Claim> {
    return this.chain.submit(this, eventId);
  }

  async run(db: EntityManager, eventIds: string[]): Promise<Array<Audited<Claim>>> {
    const unique = [...new Set(eventIds)];
    // Both in one round trip and one transaction, prepared: the claim reads once the locks are held.
    // (Versions before this one run them through `locked_claim`, which parses and plans them each time.)
    const rows = (await PreparedStatement.runTogether<{ row: ClaimRow }>(db, [LOCK, CLAIM], [unique])).map(
      ({ row }) => row,
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    const answered = new Set<string>();
    return eventIds.map((id) => {
      const row = byId.get(id);
      // The same event twice in a batch (a replay beside its original): the first one routes it.
      const again = answered.has(id);
      answered.add(id);
      if (!row || (again && row.verdict !== 'wait')) return { result: { verdict: 'done' }, records: [] };
      if (row.verdict === 'stale') return { result: { verdict: 'stale' }, records: [] };
      if (row.verdict === 'wait') return { result: { verdict: 'wait' }, records: [] };
      return { result: { verdict: 'claimed', event: claimedEvent(row) }, records: [] };
    });
  }
}

function claimedEvent(row: ClaimRow): ClaimedEvent {
  return {
    id: row.id,
    sourceId: row.source_id!,
    interaction: row.interaction!,
    focusType: row.focus_type!,
    focusId: row.focus_id!,
    focusVersion: row.focus_version,
    resource: row.resource,
  };
}

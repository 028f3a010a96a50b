import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { Audited, AuditChain, BatchedWrite, contentHashSql } from './audit-chain';
import { EntityColumns } from './entity-columns';
import { EventEntity, PluginRunEntity, RunMode, RunOutcome } from './entities';
import { protectInputs } from './input-policy';
import { PreparedStatement } from './prepared-statement';

export interface RunIdentity {
  eventId: string;
  sourceId: string;
  pluginId: string;
  pluginVersion: string;
  modelSha256: string;
  mode?: RunMode;
  triggeredBy?: string;
}

export interface RunCompletion {
  outcome: Exclude<RunOutcome, 'pending'>;
  reason?: string;
  patientRef?: string;
  inputs?: object;
  outputs?: object;
  executionProvider?: string;
  latencyMs?: number;
}

/** A run as opened: its id, and whether it is still to do (new, or opened before but not finished). */
export interface OpenedRun {
  id: string;
  pending: boolean;
}

const runKey = (r: { eventId: string; pluginId: string; pluginVersion: string }) =>
  `${r.eventId}|${r.pluginId}|${r.pluginVersion}`;

/**
 * Inserts the runs not yet opened, records the routed events' status and reason, and chains every
 * row it wrote (the runs, then the events, each by id) in one audit_append: an event is never
 * routed without its runs. `linked` is one row whatever was inserted.
 */
const OPEN_RUNS = new PreparedStatement<{
  id: string | null;
  eventId: string;
  pluginId: string;
  pluginVersion: string;
}>(
  'aegle_open_runs_route',
  `WITH ins AS (
     INSERT INTO plugin_run (event_id, source_id, plugin_id, plugin_version, model_sha256, mode, triggered_by)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[])
     ON CONFLICT DO NOTHING
     RETURNING id::text AS id, event_id::text AS "eventId", plugin_id AS "pluginId",
               plugin_version AS "pluginVersion", ${contentHashSql('plugin_run')} AS content_sha256
   ), routed AS (
     UPDATE event SET status = 'routed', reason = v.reason
     FROM unnest($8::uuid[], $9::text[]) AS v(id, reason)
     WHERE event.id = v.id
     RETURNING event.id::text AS id, ${contentHashSql('event')} AS content_sha256
   ), chained AS (
     SELECT 1 AS part, 'plugin_run'::text AS type, id, 'opened'::text AS action, content_sha256 FROM ins
     UNION ALL SELECT 2, 'event', id, 'routed', content_sha256 FROM routed
   ), linked AS (
     SELECT audit_append(array_agg(type ORDER BY part, id), array_agg(id ORDER BY part, id),
                         array_agg(action ORDER BY part, id), array_agg(content_sha256 ORDER BY part, id))
     FROM chained)
   SELECT ins.id, ins."eventId", ins."pluginId", ins."pluginVersion" FROM linked LEFT JOIN ins ON true`,
);

/** Runs opened before, by (event, plugin, version). */
const FIND_RUNS = new PreparedStatement<{
  id: string;
  eventId: string;
  pluginId: string;
  pluginVersion: string;
  outcome: string;
}>(
  'aegle_find_runs',
  `SELECT r.id::text AS id, r.event_id::text AS "eventId", r.plugin_id AS "pluginId",
          r.plugin_version AS "pluginVersion", r.outcome
   FROM plugin_run r JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS k(e, p, v)
     ON r.event_id = k.e AND r.plugin_id = k.p AND r.plugin_version = k.v`,
);

/** Records runs' outcomes and chains them. */
const COMPLETE_RUNS = new PreparedStatement<unknown>(
  'aegle_complete_runs',
  `WITH u AS (
     UPDATE plugin_run SET outcome = v.outcome, reason = v.reason, patient_ref = v.patient_ref,
            inputs = v.inputs, outputs = v.outputs, execution_provider = v.execution_provider,
            latency_ms = v.latency_ms, finished_at = now()
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::text[],
                 $8::float8[]) AS v(id, outcome, reason, patient_ref, inputs, outputs, execution_provider, latency_ms)
     WHERE plugin_run.id = v.id
     RETURNING plugin_run.id::text AS id, plugin_run.outcome, ${contentHashSql('plugin_run')} AS content_sha256)
   SELECT audit_append(array_agg('plugin_run'::text ORDER BY id), array_agg(id ORDER BY id),
                       array_agg(outcome ORDER BY id), array_agg(content_sha256 ORDER BY id))
   FROM u`,
);

const OTHERS_WROTE_SINCE = new PreparedStatement<{ othersWroteSince: boolean }>(
  'aegle_others_wrote_since',
  `SELECT EXISTS (
     SELECT 1 FROM plugin_run o JOIN write_back w ON w.run_id = o.id
     WHERE o.patient_ref = $2 AND o.source_id = $3 AND o.plugin_id = $4
       AND o.id <> $1 AND w.outcome = 'created' AND w.created_at >= $5::timestamptz
   ) AS "othersWroteSince"`,
);

/** Runs to open, and the event they were routed from when routing is done with them. */
interface Opening {
  runs: RunIdentity[];
  routed?: { eventId: string; reason: string | null };
}

/**
 * Opens runs and records events as routed, many at once: one statement per batch that inserts the
 * runs, updates the events and chains both (an existing run is found, not duplicated; the same run
 * asked twice in a batch is opened once).
 */
class OpenRuns implements BatchedWrite<Opening, OpenedRun[]> {
  readonly linksItself = true;

  async run(db: EntityManager, items: Opening[]): Promise<Array<Audited<OpenedRun[]>>> {
    const runs = items.flatMap((item) => item.runs);
    // Should one event be routed twice in a batch, the later reason is the one recorded.
    const routed = new Map(items.flatMap(({ routed: r }) => (r ? [[r.eventId, r.reason] as const] : [])));
    const inserted = await OPEN_RUNS.run(db, [
      runs.map((i) => i.eventId),
      runs.map((i) => i.sourceId),
      runs.map((i) => i.pluginId),
      runs.map((i) => i.pluginVersion),
      runs.map((i) => i.modelSha256),
      runs.map((i) => i.mode ?? 'live'),
      runs.map((i) => i.triggeredBy ?? null),
      [...routed.keys()],
      [...routed.values()],
    ]);
    const created = new Map(inserted.filter((row) => row.id !== null).map((row) => [runKey(row), row]));
    const missing = runs.filter((i) => !created.has(runKey(i)));
    const existing = new Map<string, OpenedRun>();
    if (missing.length > 0) {
      // Opened before (a replay, a chain come round), or by a statement that committed meanwhile.
      const rows = await FIND_RUNS.run(db, [
        missing.map((i) => i.eventId),
        missing.map((i) => i.pluginId),
        missing.map((i) => i.pluginVersion),
      ]);
      for (const row of rows) existing.set(runKey(row), { id: row.id, pending: row.outcome === 'pending' });
    }
    const opened = (run: RunIdentity): OpenedRun => {
      const row = created.get(runKey(run));
      return row ? { id: row.id!, pending: true } : existing.get(runKey(run))!;
    };
    return items.map((item) => ({ result: item.runs.map(opened), records: [] }));
  }
}

/** Completes runs, many at once: one multi-row update per batch, chaining its rows itself. */
class CompleteRuns implements BatchedWrite<{ id: string; completion: RunCompletion }, void> {
  readonly linksItself = true;

  async run(
    db: EntityManager,
    items: Array<{ id: string; completion: RunCompletion }>,
  ): Promise<Array<Audited<void>>> {
    // Should one run be completed twice in a batch, the later completion is the one recorded.
    const last = new Map(items.map((item, i) => [item.id, i]));
    const unique = [...last.values()].map((i) => items[i]);
    const json = (value: object | undefined) => (value === undefined ? null : JSON.stringify(value));
    await COMPLETE_RUNS.run(db, [
      unique.map((u) => u.id),
      unique.map((u) => u.completion.outcome),
      unique.map((u) => u.completion.reason ?? null),
      unique.map((u) => u.completion.patientRef ?? null),
      unique.map((u) => json(u.completion.inputs)),
      unique.map((u) => json(u.completion.outputs)),
      unique.map((u) => u.completion.executionProvider ?? null),
      unique.map((u) => u.completion.latencyMs ?? null),
    ]);
    return items.map(() => ({ result: undefined, records: [] }));
  }
}

@Injectable()
export class PluginRunRepository {
  private readonly openRuns = new OpenRuns();
  private readonly completeRuns = new CompleteRuns();
  private readonly runColumns: EntityColumns<PluginRunEntity>;
  private readonly eventColumns: EntityColumns<EventEntity>;
  /** Built on first use, from the entities' metadata. */
  private getRun?: PreparedStatement<PluginRunEntity>;
  private getRunWithEvent?: PreparedStatement<Record<string, unknown>>;

  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
  ) {
    this.runColumns = new EntityColumns(db, PluginRunEntity);
    this.eventColumns = new EntityColumns(db, EventEntity);
  }

  /** The run of this plugin version on this event, created once however often routing repeats. */
  async open(identity: RunIdentity): Promise<string> {
    return (await this.openRun(identity)).id;
  }

  /** As {@link open}, also telling whether the run is still to do, without another read. */
  async openRun(identity: RunIdentity): Promise<OpenedRun> {
    const [run] = await this.openAll([identity]);
    return run;
  }

  /** Opens the runs (as {@link openRun}, in order), in one statement shared with the batch. */
  openAll(identities: RunIdentity[]): Promise<OpenedRun[]> {
    return this.chain.submit(this.openRuns, { runs: identities });
  }

  /**
   * Opens an event's runs (none, or one per plugin version it matched) and records the event as
   * routed with `reason`, in one statement: the event is routed with its runs or not at all. Runs
   * come back as {@link openAll} gives them; queueing those still pending is the caller's.
   */
  openAndRoute(eventId: string, identities: RunIdentity[], reason: string | null): Promise<OpenedRun[]> {
    return this.chain.submit(this.openRuns, { runs: identities, routed: { eventId, reason } });
  }

  async get(id: string): Promise<PluginRunEntity | null> {
    this.getRun ??= new PreparedStatement(
      'aegle_run',
      `SELECT ${this.runColumns.select('r')} FROM plugin_run r WHERE r.id = $1`,
    );
    const [row] = await this.getRun.run(this.db, [id]);
    return row ?? null;
  }

  /**
   * Whether another run of the same plugin for the same patient and source has written a new result
   * since then (by the audit trail): the earlier results a run read with its inputs are then stale.
   */
  async othersWroteSince(
    run: Pick<PluginRunEntity, 'id' | 'patientRef' | 'sourceId' | 'pluginId'>,
    since: Date,
  ): Promise<boolean> {
    const [row] = await OTHERS_WROTE_SINCE.run(this.db, [
      run.id,
      run.patientRef,
      run.sourceId,
      run.pluginId,
      since,
    ]);
    return row?.othersWroteSince === true;
  }

  /** The run and the event it runs on, in one read: what a plugin run starts from. */
  async getWithEvent(id: string): Promise<{ run: PluginRunEntity; event: EventEntity | null } | null> {
    this.getRunWithEvent ??= new PreparedStatement(
      'aegle_run_with_event',
      `SELECT ${this.runColumns.select('r')}, ${this.eventColumns.select('e', 'event.')}
       FROM plugin_run r LEFT JOIN event e ON e.id = r.event_id WHERE r.id = $1`,
    );
    const [row] = await this.getRunWithEvent.run(this.db, [id]);
    if (!row) return null;
    return {
      run: this.runColumns.from(row),
      event: row['event.id'] === null ? null : this.eventColumns.from(row, 'event.'),
    };
  }

  /** Records the run's outcome; the inputs are stored as the PHI policy (`audit.storeInputs`) says. */
  complete(id: string, completion: RunCompletion): Promise<void> {
    return this.chain.submit(this.completeRuns, {
      id,
      completion: { ...completion, inputs: protectInputs(completion.inputs, this.config.audit) },
    });
  }

  /** Runs of one source for one patient, newest first (repository methods take their scope). */
  findForPatient(sourceId: string, patientRef: string): Promise<PluginRunEntity[]> {
    return this.db
      .getRepository(PluginRunEntity)
      .find({ where: { sourceId, patientRef }, order: { createdAt: 'DESC' } });
  }
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import {
  DeadLetterRepository,
  PluginRunEntity,
  PluginRunRepository,
  WriteBackAttempt,
  WriteBackRepository,
} from '@aegle/store';
import { buildWriteBackAuditEvent, EhrClient, EhrClients, EhrRequestError } from '@aegle/fhir';
import {
  buildDevice,
  MODEL_IDENTIFIER_SYSTEM,
  modelIdentifier,
  modelIdentityOf,
  ModelIdentity,
  PLUGIN_TAG_SYSTEM,
  resultContextOf,
  resultObservations,
  RunResult,
} from '@aegle/plugin-sdk/engine';
import { deadLettersTotal, writeBackAttemptsTotal } from '@aegle/telemetry';
import { LoadedPlugin, PluginRegistry } from '@aegle/catalogue';
import { JobQueues, retryDelayMs } from '@aegle/jobs';
import { CircuitBreaker } from './circuit-breaker';
import { earlierResultsSearch, SeenResults } from './earlier-results';
import {
  liveEarlierResults,
  PartialWriteError,
  resultTransaction,
  ResultTransaction,
  ResultWritten,
} from './result-transaction';
import { writeSequentially } from './sequential-writes';

/** How far apart the worker's clock and PostgreSQL's may be, for "recorded since". */
const CLOCK_MARGIN_MS = 5_000;

/** What one write-back attempt came to. */
export type WriteOutcome =
  | { kind: 'written' }
  /** The source's breaker is open: no attempt was made; ask again after `delayMs`. */
  | { kind: 'resting'; delayMs: number }
  /** Failed and recorded as retrying: try again after `delayMs`. */
  | { kind: 'retrying'; delayMs: number; failure: EhrRequestError }
  /** Given up: the dead letter is recorded. */
  | { kind: 'dead'; reason: string };

/**
 * Writes a run's results to the EHR: the model's Device (once), then per result one transaction
 * with the Observation, its Provenance and the supersession of earlier results, all conditional on
 * deterministic identifiers so retries, duplicates and replays never write twice. EHR faults are
 * retried with backoff and jitter until the source's horizon; refusals become dead letters at once.
 * A source that keeps failing opens its circuit breaker and its writes wait instead of retrying.
 *
 * The first attempt is made in the run's own job as soon as the run succeeds ({@link writeFirst}),
 * with the earlier results the run read with its inputs; only a result that did not land then goes
 * to the write-back queue (WritebackProcessor), which makes the later attempts.
 */
@Injectable()
export class ResultWriter {
  private readonly logger = new Logger(ResultWriter.name);
  private readonly deviceIds = new Map<string, string>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  /** Sources found to carry out transactions non-atomically: their results go as sequential writes. */
  private readonly nonAtomic = new Set<string>();

  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly runs: PluginRunRepository,
    private readonly writeBacks: WriteBackRepository,
    private readonly deadLetters: DeadLetterRepository,
    private readonly plugins: PluginRegistry,
    private readonly ehr: EhrClients,
    private readonly jobs: JobQueues,
  ) {}

  /**
   * The first attempt, for a run that has just succeeded: what does not land now goes to the
   * write-back queue, to be retried (or, with the breaker open, tried) there.
   */
  async writeFirst(run: PluginRunEntity, seen?: SeenResults): Promise<void> {
    if (!hasResultsToWrite(run)) return;
    const firstAt = Date.now();
    // The earlier results read with the inputs stand, unless another result of the plugin for the
    // patient was recorded since (clocks may differ: a margin).
    const earlier =
      seen && !(await this.runs.othersWroteSince(run, new Date(seen.at.getTime() - CLOCK_MARGIN_MS)))
        ? seen.byCode
        : undefined;
    const outcome = await this.attempt(run, 1, firstAt, earlier);
    if (outcome.kind === 'resting')
      await this.jobs.writeAgain(run.id, { count: 0, firstAt }, outcome.delayMs);
    if (outcome.kind === 'retrying')
      await this.jobs.writeAgain(run.id, { count: 1, firstAt }, outcome.delayMs);
  }

  /**
   * One attempt (`attempt` counts from 1) at writing the run's results, whose first attempt started
   * at `firstAt` (the source's retry horizon counts from there).
   */
  async attempt(
    run: PluginRunEntity,
    attempt: number,
    firstAt: number,
    /** Earlier results by code, as the run read them; searched for when absent. */
    earlier?: Map<string, fhir4.Observation[]>,
  ): Promise<WriteOutcome> {
    if (!hasResultsToWrite(run)) return { kind: 'written' };
    const source = this.ehr.source(run.sourceId);
    const plugin = this.plugins.get(run.pluginId, run.pluginVersion);
    if (!source || !plugin) {
      const reason = source ? 'the plugin version is no longer loaded' : 'the source is no longer configured';
      await this.deadLetter(
        run,
        attempt,
        { status: undefined, outcome: undefined, message: reason },
        'refused',
      );
      return { kind: 'dead', reason };
    }

    const breaker = this.breakerFor(source);
    const wait = breaker.admit();
    // The EHR is resting: wait without spending an attempt (the horizon still counts wall time).
    if (wait > 0) return { kind: 'resting', delayMs: wait + Math.round(Math.random() * wait * 0.1) };

    const client = this.ehr.for(run.sourceId);
    try {
      await this.write(run, plugin, source, client, attempt, earlier);
      breaker.succeeded();
      return { kind: 'written' };
    } catch (error) {
      const failure =
        error instanceof EhrRequestError
          ? error
          : new EhrRequestError(undefined, undefined, `write-back failed: ${(error as Error).message}`);
      if (error instanceof EhrRequestError && error.transient) breaker.failed();
      else breaker.released();
      // A refusal may be the remembered Device gone from the EHR: the next try ensures it again.
      if (!failure.retryable) this.forgetDevices(client.sourceId);
      const delayMs = retryDelayMs(attempt, source.writeBack, failure.retryAfterMs);
      const outOfTime = Date.now() - firstAt + delayMs > source.writeBack.retryHorizonMs;
      if (!failure.retryable || outOfTime) {
        await this.deadLetter(run, attempt, failure, failure.retryable ? 'horizon' : 'refused');
        return { kind: 'dead', reason: failure.message };
      }
      await this.recordFailedAttempt(run, attempt, failure, 'retrying');
      writeBackAttemptsTotal.inc({ source: run.sourceId, outcome: 'retrying' });
      this.logger.warn(
        { runId: run.id, source: run.sourceId, status: failure.status, attempt, retryInMs: delayMs },
        'write-back failed; will retry',
      );
      return { kind: 'retrying', delayMs, failure };
    }
  }

  private async write(
    run: PluginRunEntity,
    plugin: LoadedPlugin,
    source: SourceConfig,
    client: EhrClient,
    attempt: number,
    seen?: Map<string, fhir4.Observation[]>,
  ): Promise<void> {
    const outputs = run.outputs as RunResult;
    const manifest = plugin.manifest;
    const model = modelIdentityOf(manifest);
    const device = await this.ensureDevice(client, model);
    const now = new Date().toISOString();
    const mode = source.writeBack.supersedeByPlugin[manifest.id] ?? source.writeBack.supersede;

    const results = resultObservations(
      manifest,
      outputs.findings,
      resultContextOf(outputs, { sourceId: run.sourceId, subject: run.patientRef!, issued: now, device }),
    );
    for (const [index, { identifier, spec, observation }] of results.entries()) {
      const code = `${spec.code.system}|${spec.code.code}`;
      const search = earlierResultsSearch(run.patientRef!, code);
      const earlier =
        mode === 'none'
          ? []
          : liveEarlierResults(
              // The search has only subject and code, which every EHR supports; the plugin tag is
              // checked here.
              (
                seen?.get(code) ??
                (await client.search<fhir4.Observation>(search.resourceType, search.params))
              ).filter((o) =>
                o.meta?.tag?.some((t) => t.system === PLUGIN_TAG_SYSTEM && t.code === manifest.id),
              ),
              identifier,
            );
      const transaction = resultTransaction({
        observation,
        identifier,
        provenance: {
          recorded: now,
          device,
          organization: this.config.organization.name,
          sources: outputs.sources,
        },
        earlier,
        mode,
        now,
      });
      const written = await this.carryOut(run, source, client, attempt, transaction);
      if (source.auditEvents) {
        const target = `Observation/${written.observationId}`;
        await client.createIfNoneExist(
          buildWriteBackAuditEvent({
            target,
            patient: run.patientRef!,
            device,
            organization: this.config.organization.name,
            recorded: now,
            runId: run.id,
            existed: !written.created,
          }),
          `entity=${target}`,
        );
      }
      const attempts: WriteBackAttempt[] = [
        {
          runId: run.id,
          sourceId: run.sourceId,
          resourceType: 'Observation',
          resourceId: written.observationId,
          identifier,
          attempt,
          httpStatus: written.created ? 201 : 200,
          outcome: written.created ? 'created' : 'exists',
          response: null,
        },
        ...written.superseded.map((id): WriteBackAttempt => ({
          runId: run.id,
          sourceId: run.sourceId,
          resourceType: 'Observation',
          resourceId: id,
          identifier,
          attempt,
          httpStatus: 200,
          outcome: 'superseded',
          response: { mode, by: `Observation/${written.observationId}` },
        })),
      ];
      // The last result's record also resolves the run's dead letter (a replay that got through).
      const last = index === results.length - 1;
      await this.writeBacks.recordAll(attempts, last ? run.id : undefined);
      writeBackAttemptsTotal.inc({ source: run.sourceId, outcome: written.created ? 'created' : 'exists' });
    }
    if (results.length === 0) await this.deadLetters.resolve(run.id);
    this.logger.debug({ runId: run.id, plugin: plugin.key }, 'results written back');
  }

  /**
   * Writes one result's Bundle as a transaction where the source takes them, else (or once the EHR
   * was found not atomic) as sequential conditional writes. Every entry must land: a transaction
   * answered 200 with a failed entry but others landed is the sign of a non-atomic EHR, recorded in
   * the audit trail, and the rest is written at once sequentially (idempotent: what landed is found).
   */
  private async carryOut(
    run: PluginRunEntity,
    source: SourceConfig,
    client: EhrClient,
    attempt: number,
    transaction: ResultTransaction,
  ): Promise<ResultWritten> {
    if (!source.writeBack.transactions || this.nonAtomic.has(source.id)) {
      return located(client, transaction, await writeSequentially(client, transaction.bundle));
    }
    try {
      return await located(client, transaction, await client.transaction(transaction.bundle));
    } catch (error) {
      if (!(error instanceof PartialWriteError) || error.landed === 0) throw error;
      this.nonAtomic.add(source.id);
      const message = `${error.message}; this source's results now go as sequential conditional writes`;
      await this.recordFailedAttempt(
        run,
        attempt,
        { status: error.status, outcome: undefined, message },
        'retrying',
      );
      this.logger.warn(
        { runId: run.id, source: source.id, status: error.status },
        'the EHR does not carry out transactions atomically; writing sequentially',
      );
      const written = await located(client, transaction, await writeSequentially(client, transaction.bundle));
      return { ...written, created: written.created || error.observationCreated };
    }
  }

  /** Gives up on the run's results: a failed attempt and the run's dead letter in the audit trail. */
  async deadLetter(
    run: PluginRunEntity,
    attempt: number,
    failure: Pick<EhrRequestError, 'status' | 'outcome' | 'message'>,
    reason: 'refused' | 'horizon' | 'stalled',
  ): Promise<void> {
    await this.recordFailedAttempt(run, attempt, failure, 'dead');
    await this.deadLetters.open({
      runId: run.id,
      sourceId: run.sourceId,
      pluginId: run.pluginId,
      pluginVersion: run.pluginVersion,
      httpStatus: failure.status ?? null,
      reason: {
        horizon: `gave up after the retry horizon: ${failure.message}`,
        refused: `refused: ${failure.message}`,
        stalled: failure.message,
      }[reason],
      outcome: failure.outcome ?? null,
      attempts: attempt,
    });
    writeBackAttemptsTotal.inc({ source: run.sourceId, outcome: 'dead' });
    deadLettersTotal.inc({ source: run.sourceId, reason });
    this.logger.error(
      { runId: run.id, source: run.sourceId, status: failure.status, reason },
      'write-back is a dead letter',
    );
  }

  /** One failed attempt in the audit trail, with what the EHR answered. */
  private async recordFailedAttempt(
    run: PluginRunEntity,
    attempt: number,
    failure: Pick<EhrRequestError, 'status' | 'outcome' | 'message'>,
    outcome: 'retrying' | 'dead',
  ): Promise<void> {
    await this.writeBacks.record({
      runId: run.id,
      sourceId: run.sourceId,
      resourceType: 'Observation',
      resourceId: null,
      identifier: '',
      attempt,
      httpStatus: failure.status ?? null,
      outcome,
      response: failure.outcome ?? { message: failure.message },
    });
  }

  private breakerFor(source: SourceConfig): CircuitBreaker {
    let breaker = this.breakers.get(source.id);
    if (!breaker) {
      breaker = new CircuitBreaker(
        source.id,
        source.writeBack.breakerThreshold,
        source.writeBack.breakerCooldownMs,
      );
      this.breakers.set(source.id, breaker);
    }
    return breaker;
  }

  private forgetDevices(sourceId: string): void {
    for (const key of this.deviceIds.keys()) if (key.startsWith(`${sourceId}|`)) this.deviceIds.delete(key);
  }

  /** The model's Device on this EHR, created once (conditional on its identifier) and remembered. */
  private async ensureDevice(client: EhrClient, model: ModelIdentity): Promise<string> {
    const cacheKey = `${client.sourceId}|${modelIdentifier(model)}`;
    const cached = this.deviceIds.get(cacheKey);
    if (cached) return cached;
    const { resource } = await client.createIfNoneExist(
      buildDevice(model),
      `identifier=${MODEL_IDENTIFIER_SYSTEM}|${modelIdentifier(model)}`,
    );
    const reference = `Device/${resource.id}`;
    this.deviceIds.set(cacheKey, reference);
    return reference;
  }
}

/**
 * What a result's transaction (or its sequential writes) wrote, the Observation's id included: an
 * answer that names it neither by resource nor by location (an EHR that honours
 * `Prefer: return=minimal` without a location) is followed by a search for the result's identifier.
 */
async function located(
  client: EhrClient,
  transaction: ResultTransaction,
  response: fhir4.Bundle,
): Promise<ResultWritten> {
  const written = transaction.read(response);
  if (written.observationId) return { ...written, observationId: written.observationId };
  const { resourceType, params } = transaction.observationSearch;
  const [found] = await client.search<fhir4.Observation>(resourceType, params);
  if (!found?.id)
    throw new Error('the transaction response names no Observation, and none has its identifier');
  return { ...written, observationId: found.id };
}

/** Shadow runs are audited only, and a run without a patient or success has nothing for the EHR. */
function hasResultsToWrite(run: PluginRunEntity): boolean {
  return run.outcome === 'succeeded' && Boolean(run.patientRef) && run.mode !== 'shadow';
}

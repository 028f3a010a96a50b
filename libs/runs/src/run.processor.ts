import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import { performance } from 'node:perf_hooks';
import { EventEntity, PluginRunEntity, PluginRunRepository, RunCompletion } from '@aegle/store';
import { EhrClients, EhrRequestError } from '@aegle/fhir';
import { ExecutionProvider, InferenceRuntime } from '@aegle/inference';
import { ModelHost } from './model-host';
import {
  evaluatePlugin,
  Evaluation,
  ExtractContext,
  FeatureValue,
  patientIdOf,
  RunResult,
  runResultOf,
} from '@aegle/plugin-sdk/engine';
import { pluginRunsTotal } from '@aegle/telemetry';
import { earlierResultsSearch, resultCodes, ResultWriter, SeenResults } from '@aegle/write-back';
import { EhrPatientData } from './ehr-patient-data';
import { LoadedPlugin, PluginRegistry } from '@aegle/catalogue';
import { EhrClock, PluginSlots, RunTimeoutError, withTimeout } from './plugin-slots';
import { JobPayload, JobQueues, QUEUES, runBackoff, Traced } from '@aegle/jobs';
import { RunStarter } from './run-starter';

/**
 * How long a run turned away by a plugin at its concurrency limit waits before trying again: about
 * until the runs in line ahead of it are through, within these bounds (each try costs a queue round
 * trip and a database read).
 */
const SLOT_RETRY_MIN_MS = 50;
const SLOT_RETRY_MAX_MS = 2_000;
/** Runs taken from the queue at once by one process. */
const RUN_CONCURRENCY = 32;
/**
 * Runs of one plugin version that wait in the process for its next free slot. Waiting here costs
 * nothing per wait (a slot is handed over when a run ends), where a trip back to the queue costs a
 * database read and Redis scripts each time; the cap keeps half the worker's jobs for other plugins.
 */
const MAX_WAITING_PER_PLUGIN = RUN_CONCURRENCY / 2;

/**
 * One plugin run: gather the inputs from the EHR, run the plugin (its code and its model) within its
 * timeout and concurrency limit, interpret its outputs. Missing, out-of-range or restricted data is
 * a skip with a reason; a throw or a timeout is a failed run that touches nothing else; only EHR
 * faults are retried. A live or canary result is written back and starts the runs chained after it;
 * a shadow result is only audited.
 */
@Processor(QUEUES.runs, {
  concurrency: RUN_CONCURRENCY,
  autorun: false,
  settings: { backoffStrategy: runBackoff },
})
export class RunProcessor extends WorkerHost {
  private readonly logger = new Logger(RunProcessor.name);

  constructor(
    private readonly runs: PluginRunRepository,
    private readonly plugins: PluginRegistry,
    private readonly runtime: InferenceRuntime,
    private readonly host: ModelHost,
    private readonly ehr: EhrClients,
    private readonly slots: PluginSlots,
    private readonly starter: RunStarter,
    private readonly writer: ResultWriter,
    private readonly jobs: JobQueues,
  ) {
    super();
  }

  @Traced()
  async process(job: Job<JobPayload<typeof QUEUES.runs>>, token?: string): Promise<void> {
    const found = await this.runs.getWithEvent(job.data.runId);
    if (!found) return;
    const { run, event } = found;
    if (run.outcome === 'succeeded') return this.afterSuccess(run, event);
    if (run.outcome !== 'pending') return;
    const plugin = this.plugins.get(run.pluginId, run.pluginVersion);
    if (!plugin)
      return this.finish(run, {
        outcome: 'failed',
        reason: 'the plugin version is no longer loaded',
      });
    // Opened once per process; a machine that cannot open it fails the job, to be retried.
    await this.host.open(plugin);
    const limits = this.plugins.limitsOf(plugin);
    const slot = this.slots.acquire(plugin.key, limits.maxConcurrency, MAX_WAITING_PER_PLUGIN);
    if (!slot) {
      // At its limit with enough runs waiting: wait outside the worker, so other plugins' runs go on.
      const expected = this.slots.expectedWaitMs(plugin.key, limits.maxConcurrency);
      const delay = Math.min(SLOT_RETRY_MAX_MS, Math.max(SLOT_RETRY_MIN_MS, expected));
      await job.moveToDelayed(Date.now() + Math.round(delay * (0.8 + Math.random() * 0.4)), token);
      throw new DelayedError();
    }
    const release = await slot;
    let handOn: HandOn | void;
    try {
      handOn = await this.execute(run, event, plugin, limits.timeoutMs);
    } finally {
      release();
    }
    // The slot bounds the plugin's own work: chained runs and the write-back go on outside it.
    await handOn?.();
  }

  private async execute(
    run: PluginRunEntity,
    event: EventEntity | null,
    plugin: LoadedPlugin,
    timeoutMs: number,
  ): Promise<HandOn | void> {
    const client = this.ehr.for(run.sourceId);
    const focus =
      event?.resource ??
      (event && (await client.read(event.focusType, event.focusId, event.focusVersion ?? undefined)));
    const patientId = focus ? patientIdOf(focus) : undefined;
    if (!event || !focus || !patientId) {
      return this.finish(run, {
        outcome: 'skipped',
        reason: 'the focus resource names no patient',
      });
    }
    const patientRef = `Patient/${patientId}`;
    const started = performance.now();
    const now = new Date();
    let provider: ExecutionProvider | undefined;
    let evaluation: Evaluation;
    // A result to be written: the earlier results it may supersede are read with the inputs.
    const superseding = run.mode !== 'shadow' && this.supersedes(run.sourceId, plugin.manifest.id);
    const codes = superseding ? resultCodes(plugin.manifest) : [];
    // The plugin's timeout is for its own work: time spent on the EHR's answers is not counted.
    const ehrClock = new EhrClock();
    const data = new EhrPatientData(ehrClock.timed(client), patientId, focus, this.ehr.source(run.sourceId));
    try {
      const upstream = await this.upstreamOf(run);
      evaluation = await withTimeout(
        // The declared inputs in one batch request where the EHR allows it, then the plugin.
        data
          .prefetch(
            plugin.manifest,
            now,
            codes.map((code) => ({ key: code, search: earlierResultsSearch(patientRef, code) })),
          )
          .then(() =>
            evaluatePlugin(plugin, data, {
              now,
              focus,
              upstream,
              infer: async (row) => {
                const result = await this.runtime.run(plugin.key, row);
                provider = result.provider;
                return result.outputs;
              },
            }),
          ),
        timeoutMs,
        () => ehrClock.elapsedMs(),
      );
    } catch (error) {
      if (error instanceof EhrRequestError) throw error;
      // Plugin code may throw from its own realm (jiti), so no instanceof Error here.
      const message = (error as { message?: unknown })?.message;
      const text = typeof message === 'string' ? message : String(error);
      this.logger.warn(
        { runId: run.id, plugin: plugin.key, timeout: error instanceof RunTimeoutError },
        'plugin run failed',
      );
      return this.finish(run, {
        outcome: 'failed',
        reason: error instanceof RunTimeoutError ? `the plugin ${text}` : `the plugin threw: ${text}`,
        patientRef,
        latencyMs: performance.now() - started,
      });
    }
    if (evaluation.status === 'skipped') {
      return this.finish(run, {
        outcome: 'skipped',
        reason: evaluation.reason,
        patientRef,
        inputs: describeInputs(evaluation.features),
        latencyMs: performance.now() - started,
      });
    }

    const focusRef = `${event.focusType}/${event.focusId}${event.focusVersion ? `/_history/${event.focusVersion}` : ''}`;
    const outputs = runResultOf(evaluation, {
      focus: focusRef,
      encounter: (focus as { encounter?: fhir4.Reference }).encounter?.reference,
      now,
    });
    const completion: RunCompletion = {
      outcome: 'succeeded',
      ...(run.mode === 'shadow' ? { reason: 'shadow mode: audited, not written to the EHR' } : {}),
      patientRef,
      inputs: describeInputs(evaluation.features),
      outputs,
      ...(provider ? { executionProvider: provider } : {}),
      latencyMs: performance.now() - started,
    };
    await this.finish(run, completion);
    this.logger.debug({ runId: run.id, plugin: plugin.key, mode: run.mode }, 'plugin run succeeded');
    const succeeded = { ...run, outcome: 'succeeded' as const, patientRef, outputs };
    return async () => {
      if (!(await this.startChained(succeeded, event))) return;
      // The first write-back attempt here, with the run in hand: no queue hop, no re-read of the run.
      await this.writer.writeFirst(succeeded, await this.earlierResultsRead(data, codes, now));
    };
  }

  /** Whether this source supersedes this plugin's earlier results (see write-back). */
  private supersedes(sourceId: string, pluginId: string): boolean {
    const writeBack = this.ehr.source(sourceId)?.writeBack;
    return (writeBack?.supersedeByPlugin[pluginId] ?? writeBack?.supersede ?? 'none') !== 'none';
  }

  /** The earlier results read with the inputs, when all were read: the first write-back's to use. */
  private async earlierResultsRead(
    data: EhrPatientData,
    codes: string[],
    at: Date,
  ): Promise<SeenResults | undefined> {
    const found = await Promise.all(codes.map((code) => data.prefetched<fhir4.Observation>(code)));
    if (codes.length === 0 || found.some((f) => f === undefined)) return undefined;
    return { at, byCode: new Map(codes.map((code, i) => [code, found[i]!])) };
  }

  /**
   * A written result (live or canary) starts the plugins chained after it, then goes to the EHR. In
   * that order, so the event's runs are all open before its last result is written: the next version
   * of the resource waits for them too (EventClaims). False for a shadow run: nothing to write.
   */
  private async startChained(run: PluginRunEntity, event: EventEntity | null): Promise<boolean> {
    if (run.mode === 'shadow') return false;
    const patientKey = run.patientRef?.slice('Patient/'.length);
    const chained = patientKey ? this.plugins.after(run.pluginId, patientKey) : [];
    if (chained.length > 0 && event) await this.starter.start(event, chained, run.id);
    return true;
  }

  /** A run that had succeeded before its job was taken over: its result goes to the write-back queue. */
  private async afterSuccess(run: PluginRunEntity, event: EventEntity | null): Promise<void> {
    if (await this.startChained(run, event)) await this.jobs.write([run.id]);
  }

  /** For a chained run: what the upstream run found, handed to the plugin's extract(). */
  private async upstreamOf(run: PluginRunEntity): Promise<ExtractContext['upstream']> {
    if (!run.triggeredBy) return undefined;
    const upstream = await this.runs.get(run.triggeredBy);
    if (!upstream) return undefined;
    const outputs = upstream.outputs as RunResult | null;
    return {
      pluginId: upstream.pluginId,
      version: upstream.pluginVersion,
      findings: (outputs?.findings ?? []).map((f) => ({
        code: `${f.code.system}|${f.code.code}`,
        value: f.value,
      })),
    };
  }

  /** Records the run's end in the audit trail and in the plugin-runs metric. */
  private async finish(run: PluginRunEntity, completion: RunCompletion): Promise<void> {
    await this.runs.complete(run.id, completion);
    pluginRunsTotal.inc({
      plugin: run.pluginId,
      version: run.pluginVersion,
      outcome: completion.outcome,
      provider: completion.executionProvider ?? 'none',
    });
  }
}

/** What a succeeded run does once its plugin's slot is free: chained runs, then the write-back. */
type HandOn = () => Promise<void>;

/** The same runs, taken from the GPU queue: GPU plugins' runs go to machines that have one. */
@Processor(QUEUES.gpuRuns, {
  concurrency: RUN_CONCURRENCY,
  autorun: false,
  settings: { backoffStrategy: runBackoff },
})
export class GpuRunProcessor extends RunProcessor {}

/** The exact features, their units and where each came from: what the audit trail keeps. */
function describeInputs(features: Record<string, FeatureValue>): Record<string, Omit<FeatureValue, 'name'>> {
  return Object.fromEntries(Object.values(features).map(({ name, ...rest }) => [name, rest]));
}

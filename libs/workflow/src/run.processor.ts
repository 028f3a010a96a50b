import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import { performance } from 'node:perf_hooks';
import { EventRepository, PluginRunEntity, PluginRunRepository, RunCompletion } from '@aegle/audit';
import { EhrClients } from '@aegle/fhir';
import { InferenceRuntime } from '@aegle/inference';
import { pluginRunsTotal } from '@aegle/telemetry';
import { FeatureValue, gatherInputs, interpretOutputs } from '@aegle/plugin-sdk';
import { EhrPatientData } from './ehr-patient-data';
import { patientIdOf } from './patient-of';
import { PluginRegistry } from './plugin-registry';
import { JobPayload, QUEUES } from './queues';
import { traced, Traced } from './traced';
import { RunOutputs } from './run-outputs';

/**
 * One plugin run: gather the inputs from the EHR, run the model, interpret its outputs. Missing
 * or out-of-range data is a skip with a reason, not an error; only EHR faults are retried.
 */
@Processor(QUEUES.runs, { concurrency: 32, autorun: false })
export class RunProcessor extends WorkerHost {
  private readonly logger = new Logger(RunProcessor.name);

  constructor(
    private readonly runs: PluginRunRepository,
    private readonly events: EventRepository,
    private readonly plugins: PluginRegistry,
    private readonly runtime: InferenceRuntime,
    private readonly ehr: EhrClients,
    @InjectQueue(QUEUES.writeback) private readonly writebackQueue: Queue,
  ) {
    super();
  }

  @Traced()
  async process(job: Job<JobPayload<typeof QUEUES.runs>>): Promise<void> {
    const run = await this.runs.get(job.data.runId);
    if (!run) return;
    if (run.outcome === 'succeeded') return this.enqueueWriteback(run.id);
    if (run.outcome !== 'pending') return;
    const plugin = this.plugins.get(run.pluginId, run.pluginVersion);
    if (!plugin)
      return this.finish(run, {
        outcome: 'failed',
        reason: 'the plugin version is no longer loaded',
      });
    const event = await this.events.get(run.eventId);
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
    const gathered = await gatherInputs(plugin.manifest, new EhrPatientData(client, patientId), now);
    if (gathered.status === 'insufficient') {
      return this.finish(run, {
        outcome: 'skipped',
        reason: `insufficient data: ${gathered.reasons.join('; ')}`,
        patientRef,
        inputs: gathered.features,
        latencyMs: performance.now() - started,
      });
    }

    const row = Object.fromEntries(
      plugin.manifest.model.inputs.map((tensor) => [
        tensor.name,
        tensor.features.map((name) => gathered.features[name].value),
      ]),
    );
    const result = await this.runtime.run(plugin.key, row);
    const findings = interpretOutputs(
      plugin.manifest,
      Object.fromEntries(Object.entries(result.outputs).map(([name, values]) => [name, values[0]])),
    );
    const focusRef = `${event.focusType}/${event.focusId}${event.focusVersion ? `/_history/${event.focusVersion}` : ''}`;
    const outputs: RunOutputs = {
      raw: result.outputs,
      findings: findings.map((f) => ({
        tensor: f.output.tensor,
        code: f.output.code,
        value: f.value,
        unit: f.output.unit,
        ...(f.band ? { band: f.band } : {}),
      })),
      effective: gathered.effective ?? now.toISOString(),
      sources: gathered.sources.map((s) => s.reference),
      focus: focusRef,
      encounter: (focus as { encounter?: fhir4.Reference }).encounter?.reference,
    };
    await this.finish(run, {
      outcome: 'succeeded',
      patientRef,
      inputs: describeInputs(gathered.features),
      outputs,
      executionProvider: result.provider,
      latencyMs: performance.now() - started,
    });
    this.logger.debug({ runId: run.id, plugin: plugin.key }, 'plugin run succeeded');
    await this.enqueueWriteback(run.id);
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

  private async enqueueWriteback(runId: string): Promise<void> {
    await this.writebackQueue.add('write', traced({ runId }), { jobId: runId });
  }
}

/** The same runs, taken from the GPU queue: GPU plugins' runs go to machines that have one. */
@Processor(QUEUES.gpuRuns, { concurrency: 32, autorun: false })
export class GpuRunProcessor extends RunProcessor {}

/** The exact features, their units and where each came from: what the audit trail keeps. */
function describeInputs(features: Record<string, FeatureValue>): Record<string, Omit<FeatureValue, 'name'>> {
  return Object.fromEntries(Object.values(features).map(({ name, ...rest }) => [name, rest]));
}

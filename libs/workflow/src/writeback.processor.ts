import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { PluginRunEntity, PluginRunRepository, WriteBackRepository } from '@aegle/audit';
import {
  buildDevice,
  buildObservation,
  buildProvenance,
  EhrClient,
  EhrClients,
  EhrRequestError,
  MODEL_IDENTIFIER_SYSTEM,
  modelIdentifier,
  ModelIdentity,
  RESULT_IDENTIFIER_SYSTEM,
  resultKey,
} from '@aegle/fhir';
import { writeBackAttemptsTotal } from '@aegle/telemetry';
import { LoadedPlugin, PluginRegistry } from './plugin-registry';
import { JobPayload, QUEUES } from './queues';
import { Traced } from './traced';
import { RunOutputs } from './run-outputs';

/**
 * Writes a run's results to the EHR: the model's Device (once), one Observation per finding and its
 * Provenance, each by conditional create on a deterministic identifier so retries and replays
 * never write twice. EHR faults are retried with backoff; a refusal is a dead letter.
 */
@Processor(QUEUES.writeback, { concurrency: 16, autorun: false })
export class WritebackProcessor extends WorkerHost {
  private readonly logger = new Logger(WritebackProcessor.name);
  private readonly deviceIds = new Map<string, string>();

  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly runs: PluginRunRepository,
    private readonly writeBacks: WriteBackRepository,
    private readonly plugins: PluginRegistry,
    private readonly ehr: EhrClients,
  ) {
    super();
  }

  @Traced()
  async process(job: Job<JobPayload<typeof QUEUES.writeback>>): Promise<void> {
    const run = await this.runs.get(job.data.runId);
    if (!run || run.outcome !== 'succeeded' || !run.patientRef) return;
    const plugin = this.plugins.get(run.pluginId, run.pluginVersion);
    if (!plugin) throw new UnrecoverableError('the plugin version is no longer loaded');
    const attempt = job.attemptsMade + 1;
    const client = this.ehr.for(run.sourceId);
    try {
      await this.write(run, plugin, client, attempt);
    } catch (error) {
      if (!(error instanceof EhrRequestError)) throw error;
      const dead = !error.retryable || attempt >= (job.opts.attempts ?? 1);
      await this.writeBacks.record({
        runId: run.id,
        sourceId: run.sourceId,
        resourceType: 'Observation',
        resourceId: null,
        identifier: '',
        attempt,
        httpStatus: error.status ?? null,
        outcome: dead ? 'dead' : 'retrying',
        response: error.outcome ?? { message: error.message },
      });
      writeBackAttemptsTotal.inc({ source: run.sourceId, outcome: dead ? 'dead' : 'retrying' });
      if (!error.retryable) throw new UnrecoverableError(error.message);
      throw error;
    }
  }

  private async write(
    run: PluginRunEntity,
    plugin: LoadedPlugin,
    client: EhrClient,
    attempt: number,
  ): Promise<void> {
    const outputs = run.outputs as RunOutputs;
    const manifest = plugin.manifest;
    const model: ModelIdentity = {
      pluginId: manifest.id,
      version: manifest.version,
      title: manifest.title,
      publisher: manifest.publisher,
      modelSha256: manifest.model.sha256,
    };
    const device = await this.ensureDevice(client, model);
    const recorded = new Date().toISOString();

    for (const finding of outputs.findings) {
      const spec = manifest.outputs.find(
        (o) => o.tensor === finding.tensor && o.code.code === finding.code.code,
      );
      if (!spec) continue;
      const identifier = resultKey({
        sourceId: run.sourceId,
        pluginId: manifest.id,
        version: manifest.version,
        focus: outputs.focus,
        output: `${finding.code.system}|${finding.code.code}`,
      });
      const observation = buildObservation({
        identifier,
        status: manifest.policy.observationStatus,
        code: spec.code,
        category: spec.category,
        subject: run.patientRef!,
        encounter: outputs.encounter,
        effective: outputs.effective,
        issued: recorded,
        value: finding.value,
        unit: spec.unit,
        unitDisplay: spec.unitDisplay,
        interpretation: finding.band && { text: finding.band.text, coding: finding.band.interpretation },
        referenceRange: spec.referenceRange,
        derivedFrom: outputs.sources,
        device,
        method: spec.method,
        model,
      });
      const written = await client.createIfNoneExist(
        observation,
        `identifier=${RESULT_IDENTIFIER_SYSTEM}|${identifier}`,
      );
      const target = `Observation/${written.resource.id}`;
      await client.createIfNoneExist(
        buildProvenance({
          target,
          recorded,
          device,
          organization: this.config.organization.name,
          sources: outputs.sources,
        }),
        `target=${target}`,
      );
      await this.writeBacks.record({
        runId: run.id,
        sourceId: run.sourceId,
        resourceType: 'Observation',
        resourceId: written.resource.id ?? null,
        identifier,
        attempt,
        httpStatus: written.created ? 201 : 200,
        outcome: written.created ? 'created' : 'exists',
        response: null,
      });
      writeBackAttemptsTotal.inc({ source: run.sourceId, outcome: written.created ? 'created' : 'exists' });
    }
    this.logger.debug({ runId: run.id, plugin: plugin.key }, 'results written back');
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

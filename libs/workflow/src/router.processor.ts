import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import { EventRepository, PluginRunRepository } from '@aegle/audit';
import { EhrClients } from '@aegle/fhir';
import { PluginRegistry } from './plugin-registry';
import { JobPayload, QUEUES, runQueueFor } from './queues';
import { traced, Traced } from './traced';

/** Matches each event against the plugins' triggers and starts one run per matching plugin. */
@Processor(QUEUES.events, { concurrency: 16, autorun: false })
export class RouterProcessor extends WorkerHost {
  private readonly logger = new Logger(RouterProcessor.name);

  constructor(
    private readonly events: EventRepository,
    private readonly runs: PluginRunRepository,
    private readonly plugins: PluginRegistry,
    private readonly ehr: EhrClients,
    @InjectQueue(QUEUES.runs) private readonly cpuRuns: Queue,
    @InjectQueue(QUEUES.gpuRuns) private readonly gpuRuns: Queue,
  ) {
    super();
  }

  @Traced()
  async process(job: Job<JobPayload<typeof QUEUES.events>>): Promise<void> {
    const event = await this.events.get(job.data.eventId);
    if (!event || event.status !== 'accepted') return;
    if (event.interaction === 'delete') {
      return this.events.setStatus(event.id, 'routed', 'deleted resources start no plugin runs');
    }
    const focus =
      event.resource ??
      (await this.ehr
        .for(event.sourceId)
        .read(event.focusType, event.focusId, event.focusVersion ?? undefined));
    if (!focus)
      return this.events.setStatus(event.id, 'routed', 'the focus resource no longer exists in the EHR');

    const matched = this.plugins.matching(focus);
    for (const plugin of matched) {
      const runId = await this.runs.open({
        eventId: event.id,
        sourceId: event.sourceId,
        pluginId: plugin.manifest.id,
        pluginVersion: plugin.manifest.version,
        modelSha256: plugin.manifest.model.sha256,
      });
      const queue =
        runQueueFor(plugin.manifest.model.execution) === QUEUES.gpuRuns ? this.gpuRuns : this.cpuRuns;
      await queue.add('run', traced({ runId }), { jobId: runId });
    }
    await this.events.setStatus(
      event.id,
      'routed',
      matched.length === 0 ? 'no plugin trigger matched' : null,
    );
    this.logger.debug({ eventId: event.id, runs: matched.length }, 'event routed');
  }
}

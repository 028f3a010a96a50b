import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { EventRepository, IntakeRepository } from '@aegle/audit';
import { EhrClients } from '@aegle/fhir';
import { patientIdOf } from './patient-of';
import { PluginRegistry } from './plugin-registry';
import { JobPayload, QUEUES } from './queues';
import { RunStarter } from './run-starter';
import { Traced } from './traced';

/**
 * Matches each event against the triggers of the plugin versions its patient is rolled out to
 * (live or canary, and shadow) and starts one run per match.
 */
@Processor(QUEUES.events, { concurrency: 16, autorun: false })
export class RouterProcessor extends WorkerHost {
  private readonly logger = new Logger(RouterProcessor.name);

  constructor(
    private readonly events: EventRepository,
    private readonly intake: IntakeRepository,
    private readonly plugins: PluginRegistry,
    private readonly ehr: EhrClients,
    private readonly starter: RunStarter,
  ) {
    super();
  }

  @Traced()
  async process(job: Job<JobPayload<typeof QUEUES.events>>): Promise<void> {
    const event = await this.events.get(job.data.eventId);
    if (!event || event.status !== 'accepted') return;
    // A version older than one already processed arrived late: recorded, and skipped.
    if (await this.intake.skipIfStale(event.id)) return;
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

    const patientKey = patientIdOf(focus) ?? `${event.focusType}/${event.focusId}`;
    const matched = this.plugins.forFocus(focus, patientKey);
    await this.starter.start(event, matched);
    await this.events.setStatus(
      event.id,
      'routed',
      matched.length === 0 ? 'no plugin trigger matched' : null,
    );
    this.logger.debug({ eventId: event.id, runs: matched.length }, 'event routed');
  }
}

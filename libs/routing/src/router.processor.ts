import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import { EventClaims, EventRepository } from '@aegle/store';
import { EhrClients, versionKeyOf } from '@aegle/fhir';
import { patientIdOf } from '@aegle/plugin-sdk/engine';
import { RunStarter } from '@aegle/runs';
import { PluginRegistry } from '@aegle/catalogue';
import { JobPayload, QUEUES, Traced } from '@aegle/jobs';

/** How long an event held up by an older version of its resource waits before asking again. */
const HELD_RETRY_MIN_MS = 100;
const HELD_RETRY_MAX_MS = 2_000;

/**
 * Matches each event against the triggers of the plugin versions its patient is rolled out to
 * (live or canary, and shadow) and starts one run per match. Events of one resource go in version
 * order (EventClaims): one held up by an older version waits on the queue, a late older one is stale.
 */
@Processor(QUEUES.events, { concurrency: 16, autorun: false })
export class RouterProcessor extends WorkerHost {
  private readonly logger = new Logger(RouterProcessor.name);

  constructor(
    private readonly events: EventRepository,
    private readonly claims: EventClaims,
    private readonly plugins: PluginRegistry,
    private readonly ehr: EhrClients,
    private readonly starter: RunStarter,
  ) {
    super();
  }

  @Traced()
  async process(job: Job<JobPayload<typeof QUEUES.events>>, token?: string): Promise<void> {
    const claim = await this.claims.claim(job.data.eventId);
    if (claim.verdict === 'wait') {
      // Off the worker until the older version is through; the longer it has waited, the less often
      // it asks. Not an attempt: BullMQ does not count delays.
      const waited = Date.now() - job.timestamp;
      const delay = Math.min(HELD_RETRY_MAX_MS, Math.max(HELD_RETRY_MIN_MS, waited / 4));
      await job.moveToDelayed(Date.now() + Math.round(delay * (0.9 + Math.random() * 0.2)), token);
      throw new DelayedError();
    }
    // Stale (recorded in the claim's transaction) or nothing left to do.
    if (claim.verdict !== 'claimed') return;
    let event = claim.event;
    if (event.interaction === 'delete') {
      return this.starter.route(event, [], 'deleted resources start no plugin runs');
    }
    const focus =
      event.resource ??
      (await this.ehr
        .for(event.sourceId)
        .read(event.focusType, event.focusId, event.focusVersion ?? undefined));
    if (!focus) return this.starter.route(event, [], 'the focus resource no longer exists in the EHR');
    const versionRead = focus.meta?.versionId;
    if (!event.focusVersion && versionRead) {
      // An id-only event: the version read is the one it stands for, from now on and on every path.
      const key = versionKeyOf(
        event.sourceId,
        { resourceType: event.focusType, id: event.focusId, versionId: versionRead },
        'update',
      );
      const read = { ...focus, meta: { ...focus.meta, versionId: versionRead } };
      const { duplicateOf } = await this.events.recordVersionRead(event.id, key, read);
      if (duplicateOf) {
        return this.starter.route(
          event,
          [],
          `version ${versionRead} of the resource was already delivered (event ${duplicateOf})`,
        );
      }
      event = { ...event, focusVersion: versionRead, resource: read };
    }

    const patientKey = patientIdOf(focus) ?? `${event.focusType}/${event.focusId}`;
    const matched = this.plugins.forFocus(focus, patientKey);
    // The runs opened and the event routed in one statement, then the runs queued.
    await this.starter.route(event, matched, matched.length === 0 ? 'no plugin trigger matched' : null);
    this.logger.debug({ eventId: event.id, runs: matched.length }, 'event routed');
  }
}

import { Module } from '@nestjs/common';
import { EhrModule } from '@aegle/fhir';
import { JobsModule } from '@aegle/jobs';
import { CatchUpService } from './catch-up.service';
import { EventEnqueuer } from './event-enqueuer';
import { IntakeService } from './intake.service';
import { NotificationWriter } from './notification-writer';

/**
 * The first stage: a notification is checked, recorded with its events in one transaction, and its
 * events queued for routing. Missed notifications are caught up from the EHR.
 */
@Module({
  imports: [JobsModule, EhrModule],
  providers: [NotificationWriter, IntakeService, CatchUpService, EventEnqueuer],
  exports: [IntakeService, CatchUpService, EventEnqueuer],
})
export class IntakeModule {}

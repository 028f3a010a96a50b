import { Injectable } from '@nestjs/common';
import { OperationOutcomeError } from '@aegle/fhir';
import { CatchUpService } from './catch-up.service';
import { IntakeResult, NotificationWriter, ReceivedNotification } from './notification-writer';
import { ReceivedMeta } from './notification-rows';

/**
 * The intake of notifications an EHR sends: each is stored through the notification writer, then
 * catch-up looks for the gaps it reveals.
 */
@Injectable()
export class IntakeService {
  constructor(
    private readonly writer: NotificationWriter,
    private readonly catchUps: CatchUpService,
  ) {}

  async accept(notification: ReceivedNotification): Promise<IntakeResult> {
    const written = await this.writer.write(notification);
    this.catchUps.afterIntake(written.subscription, written.openedCatchUp);
    return written.result;
  }

  /** Records a refused notification (see NotificationWriter.reject). */
  reject(meta: ReceivedMeta, error: OperationOutcomeError): Promise<void> {
    return this.writer.reject(meta, error);
  }
}

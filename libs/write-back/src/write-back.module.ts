import { Module } from '@nestjs/common';
import { EhrModule } from '@aegle/fhir';
import { JobsModule } from '@aegle/jobs';
import { DeadLettersService } from './dead-letters.service';
import { EarlierResults } from './earlier-results';

/**
 * The last stage: a run's results become an Observation (with Device and Provenance) in the EHR.
 * What the EHR refuses for good becomes a dead letter an operator can replay.
 */
@Module({
  imports: [JobsModule, EhrModule],
  providers: [DeadLettersService, EarlierResults],
  exports: [DeadLettersService, EarlierResults, JobsModule, EhrModule],
})
export class WriteBackModule {}

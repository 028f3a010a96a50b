import { Module } from '@nestjs/common';
import { CatalogueModule } from '@aegle/catalogue';
import { EhrModule } from '@aegle/fhir';
import { JobsModule } from '@aegle/jobs';
import { DeadLettersService } from './dead-letters.service';
import { ResultWriter } from './result-writer';

/**
 * The last stage: a run's results become an Observation (with Device and Provenance) in the EHR.
 * What the EHR refuses for good becomes a dead letter an operator can replay.
 */
@Module({
  imports: [JobsModule, EhrModule, CatalogueModule],
  providers: [DeadLettersService, ResultWriter],
  exports: [DeadLettersService, ResultWriter, JobsModule, EhrModule],
})
export class WriteBackModule {}

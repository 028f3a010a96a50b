import { Module } from '@nestjs/common';
import { CatalogueModule } from '@aegle/catalogue';
import { EhrModule } from '@aegle/fhir';
import { JobsModule } from '@aegle/jobs';
import { RunsModule } from '@aegle/runs';

/**
 * The second stage: an event is matched against the catalogue's triggers and each matching
 * plugin's run is opened and queued (RunStarter, of the runs stage).
 */
@Module({
  imports: [JobsModule, CatalogueModule, EhrModule, RunsModule],
  exports: [JobsModule, CatalogueModule, EhrModule, RunsModule],
})
export class RoutingModule {}

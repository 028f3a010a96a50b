import { Module } from '@nestjs/common';
import { CatalogueModule } from '@aegle/catalogue';
import { EhrModule } from '@aegle/fhir';
import { InferenceModule } from '@aegle/inference';
import { JobsModule } from '@aegle/jobs';
import { WriteBackModule } from '@aegle/write-back';
import { ModelHost } from './model-host';
import { PluginSlots } from './plugin-slots';
import { RunStarter } from './run-starter';

/**
 * The third stage: a plugin run gathers its inputs from the EHR, runs the model and hands its
 * results to write-back. Runs are opened and queued through RunStarter.
 */
@Module({
  imports: [JobsModule, CatalogueModule, InferenceModule, EhrModule, WriteBackModule],
  providers: [RunStarter, PluginSlots, ModelHost],
  exports: [
    RunStarter,
    PluginSlots,
    ModelHost,
    JobsModule,
    CatalogueModule,
    InferenceModule,
    EhrModule,
    WriteBackModule,
  ],
})
export class RunsModule {}

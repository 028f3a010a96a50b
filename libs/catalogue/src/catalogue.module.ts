import { Module } from '@nestjs/common';
import { InferenceModule } from '@aegle/inference';
import { PluginRegistry } from './plugin-registry';

/** The plugins this deployment has: their manifests, triggers and rollout, for every role. */
@Module({ imports: [InferenceModule], providers: [PluginRegistry], exports: [PluginRegistry] })
export class CatalogueModule {}

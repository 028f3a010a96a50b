import { Module } from '@nestjs/common';
import { PluginRegistry } from './plugin-registry';

/** The plugins this deployment has: their manifests, triggers and rollout, for every role. */
@Module({ providers: [PluginRegistry], exports: [PluginRegistry] })
export class CatalogueModule {}

import { DynamicModule, Global, Module } from '@nestjs/common';
import { AegleConfig } from './config.schema';

/** Injection token of the validated {@link AegleConfig}. */
export const AEGLE_CONFIG = Symbol('AEGLE_CONFIG');

@Global()
@Module({})
export class ConfigModule {
  /** The config is loaded before Nest starts (so a bad one stops boot with one clear message). */
  static forRoot(config: AegleConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: AEGLE_CONFIG, useValue: config }],
      exports: [AEGLE_CONFIG],
    };
  }
}

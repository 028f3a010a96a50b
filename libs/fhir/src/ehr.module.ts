import { Module } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { EHR_PACER, EhrClients } from './ehr-clients';
import { RedisEhrPacer } from './ehr-pacer';

/**
 * The EHR clients, one per configured source, shared by every stage that talks to an EHR, all paced
 * by one pacer that every Aegle process shares through Redis.
 */
@Module({
  providers: [
    {
      provide: EHR_PACER,
      inject: [AEGLE_CONFIG],
      // A slot is held a little longer than its request may take, so a process that died frees it.
      useFactory: (config: AegleConfig) =>
        new RedisEhrPacer(
          config.redisUrl,
          config.queuePrefix,
          (sourceId) => (config.sources.find((s) => s.id === sourceId)?.requestTimeoutMs ?? 10_000) + 5_000,
        ),
    },
    EhrClients,
  ],
  exports: [EhrClients],
})
export class EhrModule {}

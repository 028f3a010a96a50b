import { Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import { EhrClient, FhirKitEhrClient } from './ehr-client';
import { EhrPacer, UNPACED } from './ehr-pacer';

/** The pacer every source's requests go through (see {@link RedisEhrPacer}); none for one-off tools. */
export const EHR_PACER = Symbol('EHR_PACER');

/** One {@link EhrClient} per configured source, created once, all paced by one {@link EhrPacer}. */
@Injectable()
export class EhrClients implements OnApplicationShutdown {
  private readonly clients = new Map<string, EhrClient>();
  private readonly byId = new Map<string, SourceConfig>();

  constructor(
    @Inject(AEGLE_CONFIG) config: AegleConfig,
    @Optional() @Inject(EHR_PACER) private readonly pacer: EhrPacer = UNPACED,
  ) {
    for (const source of config.sources) {
      this.byId.set(source.id, source);
      this.clients.set(source.id, new FhirKitEhrClient(source, this.pacer));
    }
  }

  source(sourceId: string): SourceConfig | undefined {
    return this.byId.get(sourceId);
  }

  sources(): SourceConfig[] {
    return [...this.byId.values()];
  }

  for(sourceId: string): EhrClient {
    const client = this.clients.get(sourceId);
    if (!client) throw new Error(`no EHR source named ${sourceId}`);
    return client;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pacer.close();
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import { EhrClient, FhirKitEhrClient } from './ehr-client';

/** One {@link EhrClient} per configured source, created once. */
@Injectable()
export class EhrClients {
  private readonly clients = new Map<string, EhrClient>();
  private readonly byId = new Map<string, SourceConfig>();

  constructor(@Inject(AEGLE_CONFIG) config: AegleConfig) {
    for (const source of config.sources) {
      this.byId.set(source.id, source);
      this.clients.set(source.id, new FhirKitEhrClient(source));
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
}

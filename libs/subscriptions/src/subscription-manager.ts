import { Inject, Injectable } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import { EhrClients } from '@aegle/fhir';

/** Tags every Subscription Aegle creates, so it finds (and only touches) its own. */
export const AEGLE_SUBSCRIPTION_TAG = {
  system: 'https://aegle.dev/fhir/CodeSystem/subscription-owner',
  code: 'aegle',
};
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

export interface ManagedSubscription {
  id: string;
  status: string;
  /** Classic: the search criteria; topic-based: the topic canonical. */
  criteria: string;
  kind: 'classic' | 'backport';
  endpoint?: string;
  error?: string;
}

/**
 * Creates, inspects, re-activates and removes the Subscriptions on a source EHR that make it notify
 * Aegle: R4 classic rest-hook (one per criteria, the bearer token in `channel.header`), or
 * topic-based through the Subscriptions Backport IG when the source names a topic.
 */
@Injectable()
export class SubscriptionManager {
  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly ehr: EhrClients,
  ) {}

  /** Creates what the source's config asks for, unless an Aegle subscription for it already exists. */
  async create(sourceId: string, endpoint?: string): Promise<ManagedSubscription[]> {
    const source = this.source(sourceId);
    const url =
      endpoint ??
      (this.config.intake.publicUrl && `${this.config.intake.publicUrl}/fhir/notify/${source.id}`);
    if (!url) {
      throw new Error(
        'Aegle does not know its public URL: set intake.publicUrl in the config or pass an endpoint',
      );
    }
    const existing = await this.status(sourceId);
    const wanted = this.build(source, url).filter((s) => !existing.some((e) => e.criteria === criteriaOf(s)));
    const client = this.ehr.for(source.id);
    const created: ManagedSubscription[] = [];
    for (const subscription of wanted) created.push(describe(await client.create(subscription)));
    return [...existing, ...created];
  }

  async status(sourceId: string): Promise<ManagedSubscription[]> {
    const source = this.source(sourceId);
    const found = await this.ehr.for(source.id).search<fhir4.Subscription>('Subscription', {
      _tag: `${AEGLE_SUBSCRIPTION_TAG.system}|${source.id}`,
    });
    return found.map(describe);
  }

  /** Puts errored or switched-off subscriptions back to `requested`, so the EHR resumes (and re-handshakes). */
  async reactivate(sourceId: string): Promise<ManagedSubscription[]> {
    const source = this.source(sourceId);
    const client = this.ehr.for(source.id);
    const found = await client.search<fhir4.Subscription>('Subscription', {
      _tag: `${AEGLE_SUBSCRIPTION_TAG.system}|${source.id}`,
    });
    const result: ManagedSubscription[] = [];
    for (const subscription of found) {
      if (subscription.status === 'error' || subscription.status === 'off') {
        const { error: _error, ...rest } = subscription;
        void _error;
        result.push(describe(await client.update({ ...rest, id: subscription.id!, status: 'requested' })));
      } else {
        result.push(describe(subscription));
      }
    }
    return result;
  }

  /** Removes Aegle's subscriptions from the EHR; returns how many there were. */
  async remove(sourceId: string): Promise<number> {
    const source = this.source(sourceId);
    const client = this.ehr.for(source.id);
    let removed = 0;
    for (const subscription of await this.status(sourceId)) {
      if (await client.delete('Subscription', subscription.id)) removed++;
    }
    return removed;
  }

  private build(source: SourceConfig, endpoint: string): fhir4.Subscription[] {
    const settings = source.subscription;
    const header = source.inbound.bearerToken
      ? [`Authorization: Bearer ${source.inbound.bearerToken.reveal()}`]
      : [];
    const meta = {
      tag: [{ system: AEGLE_SUBSCRIPTION_TAG.system, code: source.id, display: 'created by Aegle' }],
    };
    const reason = `Aegle: clinical AI models for ${source.name ?? source.id}`;
    if (settings.topic) {
      return [
        {
          resourceType: 'Subscription',
          meta: { ...meta, profile: [`${BACKPORT}/backport-subscription`] },
          status: 'requested',
          reason,
          criteria: settings.topic,
          ...(settings.criteria.length
            ? {
                _criteria: {
                  extension: settings.criteria.map((c) => ({
                    url: `${BACKPORT}/backport-filter-criteria`,
                    valueString: c,
                  })),
                },
              }
            : {}),
          channel: {
            ...(settings.heartbeatSeconds
              ? {
                  extension: [
                    {
                      url: `${BACKPORT}/backport-heartbeat-period`,
                      valueUnsignedInt: settings.heartbeatSeconds,
                    },
                  ],
                }
              : {}),
            type: 'rest-hook',
            endpoint,
            payload: 'application/fhir+json',
            _payload: {
              extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: settings.content }],
            },
            header,
          },
        } as fhir4.Subscription,
      ];
    }
    if (settings.criteria.length === 0) {
      throw new Error(`source ${source.id} declares neither subscription.criteria nor subscription.topic`);
    }
    return settings.criteria.map((criteria) => ({
      resourceType: 'Subscription',
      meta,
      status: 'requested',
      reason,
      criteria,
      channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json', header },
    }));
  }

  private source(sourceId: string): SourceConfig {
    const source = this.ehr.source(sourceId);
    if (!source) throw new Error(`no source named "${sourceId}" is configured`);
    return source;
  }
}

function criteriaOf(subscription: fhir4.Subscription): string {
  return subscription.criteria;
}

function describe(subscription: fhir4.Subscription): ManagedSubscription {
  const backport = (subscription.meta?.profile ?? []).some((p) => p.startsWith(BACKPORT));
  return {
    id: subscription.id ?? '',
    status: subscription.status,
    criteria: subscription.criteria,
    kind: backport ? 'backport' : 'classic',
    ...(subscription.channel?.endpoint ? { endpoint: subscription.channel.endpoint } : {}),
    ...(subscription.error ? { error: subscription.error } : {}),
  };
}

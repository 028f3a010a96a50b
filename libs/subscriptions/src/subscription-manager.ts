import { Inject, Injectable } from '@nestjs/common';
import { AEGLE_CONFIG, AegleConfig, SourceConfig } from '@aegle/config';
import { EhrClients } from '@aegle/fhir';

/** Tags every Subscription Aegle creates, so it finds (and only touches) its own. */
export const AEGLE_SUBSCRIPTION_TAG = {
  system: 'https://aegle.dev/fhir/CodeSystem/subscription-owner',
  code: 'aegle',
};
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
/** Medplum signs a rest-hook delivery (`X-Signature`) only when its Subscription carries this secret. */
export const MEDPLUM_SUBSCRIPTION_SECRET =
  'https://www.medplum.com/fhir/StructureDefinition/subscription-secret';

export interface ManagedSubscription {
  id: string;
  /** As the EHR has it now (read back): `requested`, `active`, `error` or `off`. */
  status: string;
  /** Classic: the search criteria; topic-based: the topic canonical. */
  criteria: string;
  kind: 'classic' | 'backport';
  endpoint?: string;
  error?: string;
}

/** What Aegle last learnt from the EHR about a source's Subscriptions, for `/health/ready`. */
export interface KnownSubscriptions {
  checkedAt: string;
  subscriptions: ManagedSubscription[];
  error?: string;
}

/** How long a readiness probe trusts what it last read of a source's Subscriptions. */
const KNOWN_FOR_MS = 60_000;

/**
 * Creates, inspects, re-activates and removes the Subscriptions on a source EHR that make it notify
 * Aegle, as the source's server dialect needs them to fire: R4 classic rest-hook (one per criteria,
 * the bearer token in `channel.header`, `requested` for the server to activate), Medplum (the same,
 * but `active` and with the signing secret), or topic-based through the Subscriptions Backport IG
 * (`requested` until the EHR's handshake). What it reports is the Subscription read back from the EHR.
 */
@Injectable()
export class SubscriptionManager {
  private readonly known = new Map<string, KnownSubscriptions>();

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
    for (const subscription of wanted) {
      const stored = await client.create(subscription);
      // What the EHR made of it (it may have activated it, refused the channel, set an error).
      const readBack = (await client.read<fhir4.Subscription>('Subscription', stored.id!)) ?? stored;
      created.push(describe(readBack));
    }
    return this.remember(source.id, [...existing, ...created]);
  }

  async status(sourceId: string): Promise<ManagedSubscription[]> {
    const source = this.source(sourceId);
    const found = await this.ehr.for(source.id).search<fhir4.Subscription>('Subscription', {
      _tag: `${AEGLE_SUBSCRIPTION_TAG.system}|${source.id}`,
    });
    return this.remember(source.id, found.map(describe));
  }

  /**
   * The source's Subscriptions as last read from the EHR, re-read when older than a minute; a read
   * that fails is reported, not thrown. Undefined for a source Aegle does not subscribe for.
   */
  async lastKnown(sourceId: string): Promise<KnownSubscriptions | undefined> {
    const source = this.source(sourceId);
    if (!source.subscription.topic && source.subscription.criteria.length === 0) return undefined;
    const known = this.known.get(sourceId);
    if (known && Date.now() - Date.parse(known.checkedAt) < KNOWN_FOR_MS) return known;
    try {
      await this.status(sourceId);
    } catch (error) {
      this.known.set(sourceId, {
        checkedAt: new Date().toISOString(),
        subscriptions: known?.subscriptions ?? [],
        error: (error as Error).message,
      });
    }
    return this.known.get(sourceId);
  }

  private remember(sourceId: string, subscriptions: ManagedSubscription[]): ManagedSubscription[] {
    this.known.set(sourceId, { checkedAt: new Date().toISOString(), subscriptions });
    return subscriptions;
  }

  /**
   * Puts errored or switched-off subscriptions back to work: `requested`, so the EHR resumes (and
   * re-handshakes), or straight to `active` on Medplum, which has no rest-hook handshake.
   */
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
        const status = source.subscription.dialect === 'medplum' ? 'active' : 'requested';
        result.push(describe(await client.update({ ...rest, id: subscription.id!, status })));
      } else {
        result.push(describe(subscription));
      }
    }
    return this.remember(source.id, result);
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
    if (settings.dialect === 'backport') {
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
    const medplum = settings.dialect === 'medplum';
    const secret = source.inbound.hmacSecret?.reveal();
    return settings.criteria.map((criteria) => ({
      resourceType: 'Subscription',
      meta,
      // Medplum delivers only `active` rest-hooks and never moves one from `requested` itself.
      status: medplum ? 'active' : 'requested',
      ...(medplum && secret
        ? { extension: [{ url: MEDPLUM_SUBSCRIPTION_SECRET, valueString: secret }] }
        : {}),
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

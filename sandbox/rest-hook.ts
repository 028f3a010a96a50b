import type { TestFhirServer } from '../test/support/fhir-server';

export interface DeliveryReport {
  subscription: string;
  resource: string;
  status?: number;
  error?: string;
  attempts: number;
}

const MAX_ATTEMPTS = 6;

/**
 * FHIR R4 rest-hook Subscriptions for the sandbox EHR (its in-memory server stores Subscription
 * resources but delivers nothing). After every write, each active Subscription whose criteria
 * match the resource (checked by the server's own search) gets it as an R4 rest-hook with
 * payload: `PUT [endpoint]/[type]/[id]`, with the channel's headers; failures are retried with
 * backoff, as an EHR's interface engine would.
 */
export class RestHookDelivery {
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly server: TestFhirServer,
    private readonly report: (delivery: DeliveryReport) => void = () => undefined,
  ) {
    server.onWrite((resource) => {
      if (this.stopped || resource.resourceType === 'Subscription') return;
      const work = this.deliver(resource).finally(() => this.inFlight.delete(work));
      this.inFlight.add(work);
    });
  }

  /** Stops delivering and waits for deliveries under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inFlight]);
  }

  private async deliver(resource: fhir4.Resource): Promise<void> {
    const subscriptions = await this.search<fhir4.Subscription>('Subscription?status=active');
    await Promise.all(
      subscriptions
        .filter((s) => s.channel.type === 'rest-hook' && s.channel.endpoint)
        .map(async (subscription) => {
          if (!(await this.matches(subscription.criteria, resource))) return;
          await this.send(subscription, resource);
        }),
    );
  }

  private async matches(criteria: string, resource: fhir4.Resource): Promise<boolean> {
    const [type, query = ''] = criteria.split('?');
    if (type !== resource.resourceType) return false;
    const found = await this.search(`${type}?${query ? `${query}&` : ''}_id=${resource.id}`);
    return found.length > 0;
  }

  private async send(subscription: fhir4.Subscription, resource: fhir4.Resource): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': subscription.channel.payload ?? 'application/fhir+json',
    };
    for (const header of subscription.channel.header ?? []) {
      const at = header.indexOf(':');
      if (at > 0) headers[header.slice(0, at).trim().toLowerCase()] = header.slice(at + 1).trim();
    }
    const url = `${subscription.channel.endpoint!.replace(/\/+$/, '')}/${resource.resourceType}/${resource.id}`;
    const name = `Subscription/${subscription.id}`;
    const target = `${resource.resourceType}/${resource.id}`;
    let lastError = '';
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !this.stopped; attempt++) {
      try {
        const response = await fetch(url, { method: 'PUT', headers, body: JSON.stringify(resource) });
        await response.body?.cancel();
        if (response.ok) {
          this.report({ subscription: name, resource: target, status: response.status, attempts: attempt });
          return;
        }
        lastError = `HTTP ${response.status}`;
        if (response.status < 500 && response.status !== 429) break;
      } catch (error) {
        lastError = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    }
    this.report({ subscription: name, resource: target, error: lastError, attempts: MAX_ATTEMPTS });
  }

  private async search<T extends fhir4.Resource>(query: string): Promise<T[]> {
    const response = await fetch(`${this.server.baseUrl}/${query}`);
    if (!response.ok)
      throw new Error(`sandbox search ${query.split('?')[0]} failed: HTTP ${response.status}`);
    const bundle = (await response.json()) as fhir4.Bundle;
    return (bundle.entry ?? []).map((e) => e.resource as T);
  }
}

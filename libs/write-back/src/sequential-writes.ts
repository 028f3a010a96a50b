import { EhrClient } from '@aegle/fhir';

/**
 * Carries out a result's transaction Bundle as single requests, in order, for EHRs that take no
 * transactions: each create stays conditional (`If-None-Exist`) and each update version-checked
 * (`If-Match`), and urn:uuid placeholders are replaced by the ids the EHR gave. Not atomic, but
 * idempotent: a retry after a partial write finds what landed and writes only the rest.
 */
export async function writeSequentially(client: EhrClient, bundle: fhir4.Bundle): Promise<fhir4.Bundle> {
  const resolved = new Map<string, string>();
  const resolve = <T>(value: T): T => {
    let text = JSON.stringify(value);
    for (const [placeholder, reference] of resolved) text = text.split(placeholder).join(reference);
    return JSON.parse(text) as T;
  };
  const entries: fhir4.BundleEntry[] = [];
  for (const entry of bundle.entry ?? []) {
    const { request, resource } = entry;
    if (!request || !resource) throw new Error('every entry needs a request and a resource');
    if (request.method === 'POST' && request.ifNoneExist) {
      const written = await client.createIfNoneExist(resolve(resource), resolve(request.ifNoneExist));
      const reference = `${written.resource.resourceType}/${written.resource.id}`;
      if (entry.fullUrl) resolved.set(entry.fullUrl, reference);
      entries.push({
        resource: written.resource,
        response: { status: written.created ? '201 Created' : '200 OK', location: reference },
      });
    } else if (request.method === 'PUT') {
      const id = request.url.split('/')[1];
      const updated = await client.update({ ...resolve(resource), id }, request.ifMatch);
      entries.push({ resource: updated, response: { status: '200 OK', location: request.url } });
    } else {
      throw new Error(`unsupported entry ${request.method} ${request.url}`);
    }
  }
  return { resourceType: 'Bundle', type: 'transaction-response', entry: entries };
}

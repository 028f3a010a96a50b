/** A parsed FHIR reference: `Type/id` or `Type/id/_history/version`, relative or absolute. */
export interface ResourceKey {
  resourceType: string;
  id: string;
  versionId?: string;
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

export function isResourceType(value: unknown): value is string {
  return typeof value === 'string' && RESOURCE_TYPE.test(value);
}

export function isResourceId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}

/** Parses relative and absolute references, tolerating a trailing slash and a `_history` suffix. */
export function parseReference(reference: string): ResourceKey | undefined {
  const path = reference.split(/[?#]/)[0].replace(/\/+$/, '');
  const parts = path.split('/');
  const history = parts.lastIndexOf('_history');
  const [type, id, version] =
    history >= 2
      ? [parts[history - 2], parts[history - 1], parts[history + 1]]
      : parts.slice(-2).concat([undefined as never]);
  if (!isResourceType(type) || !isResourceId(id)) return undefined;
  return { resourceType: type, id, ...(version && isResourceId(version) ? { versionId: version } : {}) };
}

export function referenceOf(key: ResourceKey, versioned = false): string {
  const base = `${key.resourceType}/${key.id}`;
  return versioned && key.versionId ? `${base}/_history/${key.versionId}` : base;
}

export function keyOf(resource: fhir4.Resource): ResourceKey | undefined {
  if (!resource.id) return undefined;
  return {
    resourceType: resource.resourceType,
    id: resource.id,
    ...(resource.meta?.versionId ? { versionId: resource.meta.versionId } : {}),
  };
}

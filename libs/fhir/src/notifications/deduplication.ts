import { hash } from 'node:crypto';
import { ResourceKey } from '../references';
import { FhirEvent, Interaction } from './model';

/**
 * The key that makes an event processed once however often it arrives: (subscription, event number)
 * when the EHR numbers its events, else (resource, version), else the content itself.
 */
export function deduplicationKey(sourceId: string, event: FhirEvent): string {
  if (event.subscription && event.eventNumber !== undefined) {
    return `${sourceId}|sub:${event.subscription}|${event.eventNumber}`;
  }
  const versioned = versionKey(sourceId, event);
  if (versioned) return versioned;
  const base = `${sourceId}|${event.focus.resourceType}/${event.focus.id}`;
  const content = event.resource ? JSON.stringify(event.resource) : event.interaction;
  return `${base}|h:${hash('sha256', content, 'hex')}`;
}

/**
 * The (source, resource, version) key, when there is a version: a second guard against the same
 * change twice, whatever path brought it (a rest-hook, a numbered event, a catch-up search, the
 * version an id-only event's router read). The interaction is left out: one version may come as
 * `create` from the EHR and as `update` from a search (opaque versions say nothing of which it was);
 * only a deletion is a change of its own.
 */
export function versionKey(sourceId: string, event: FhirEvent): string | undefined {
  return event.focus.versionId ? versionKeyOf(sourceId, event.focus, event.interaction) : undefined;
}

export function versionKeyOf(sourceId: string, focus: ResourceKey, interaction: Interaction): string {
  const key = `${sourceId}|${focus.resourceType}/${focus.id}|v:${focus.versionId ?? ''}`;
  return interaction === 'delete' ? `${key}|delete` : key;
}

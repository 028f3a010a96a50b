import { createHash } from 'node:crypto';
import { FhirEvent } from './model';

/**
 * The key that makes an event processed once however often it arrives: (subscription, event number)
 * when the EHR numbers its events, else (resource, version), else the content itself.
 */
export function deduplicationKey(sourceId: string, event: FhirEvent): string {
  if (event.subscription && event.eventNumber !== undefined) {
    return `${sourceId}|sub:${event.subscription}|${event.eventNumber}`;
  }
  const base = `${sourceId}|${event.focus.resourceType}/${event.focus.id}`;
  if (event.focus.versionId) return `${base}|v:${event.focus.versionId}|${event.interaction}`;
  const content = event.resource ? JSON.stringify(event.resource) : event.interaction;
  return `${base}|h:${createHash('sha256').update(content).digest('hex')}`;
}

/** The (resource, version) key, when there is a version: a second guard against the same change twice. */
export function versionKey(sourceId: string, event: FhirEvent): string | undefined {
  if (!event.focus.versionId) return undefined;
  return `${sourceId}|${event.focus.resourceType}/${event.focus.id}|v:${event.focus.versionId}|${event.interaction}`;
}

/** Small tolerant readers for the values real EHRs send in notifications. */

/** Event numbers arrive as integers, strings ("12") or not at all; anything else is ignored. */
export function eventNumberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\s*\d{1,15}\s*$/.test(value)) return Number(value);
  return undefined;
}

export function stringOf(value: unknown, maxLength = 2048): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Control characters (NUL above all) cannot be stored as PostgreSQL text, and mean nothing here.
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return clean && clean.length <= maxLength ? clean : undefined;
}

/** An instant, a dateTime or a bare date (some servers type `timestamp` as a date). */
export function timestampOf(value: unknown): string | undefined {
  const text = stringOf(value, 64);
  if (!text || !/^\d{4}(-\d{2}(-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?$/.test(text)) return undefined;
  return Number.isNaN(Date.parse(text)) ? undefined : text;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function referenceString(value: unknown): string | undefined {
  return isObject(value) ? stringOf(value.reference) : stringOf(value);
}

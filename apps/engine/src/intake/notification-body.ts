import { OperationOutcomeError } from '@aegle/fhir';

/** Media types EHRs really use for JSON notifications (the DSTU2-era `application/json+fhir` too). */
const JSON_TYPES = new Set([
  'application/fhir+json',
  'application/json',
  'application/json+fhir',
  'text/json',
]);
/** Types some servers send a JSON body under; believed only when the body is JSON. */
const LENIENT_TYPES = new Set([
  'text/plain',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
]);
const CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);
/** FHIR versions whose notifications Aegle reads: R4, R4B (backport) and R5. */
/** JSON escapes no FHIR string may hold (NUL, unpaired surrogates), and PostgreSQL cannot store. */
const UNSTORABLE =
  /\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;
const FHIR_VERSIONS = /^(4\.0|4\.3|5\.0)(\.\d+)?$/;

interface MediaType {
  type: string;
  params: Map<string, string>;
}

function parseMediaType(header: string | undefined): MediaType | undefined {
  if (!header) return undefined;
  const [type, ...rest] = header.split(';');
  const params = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq > 0)
      params.set(
        part.slice(0, eq).trim().toLowerCase(),
        part
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, ''),
      );
  }
  return { type: type.trim().toLowerCase(), params };
}

/**
 * Reads a notification body: empty (a ping), or JSON under a JSON media type, or JSON under a
 * lenient one (`text/plain` and the like). 415 for a body that is neither JSON nor declared as
 * JSON, or a charset other than UTF-8; 400 for broken JSON; 422 for an unsupported `fhirVersion`.
 */
export function readNotificationBody(bytes: Buffer, contentType: string | undefined): unknown {
  const media = parseMediaType(contentType);
  const version = media?.params.get('fhirversion');
  if (version !== undefined && !FHIR_VERSIONS.test(version)) {
    throw OperationOutcomeError.unprocessable(
      `FHIR version ${version.slice(0, 20)} is not supported; Aegle reads R4 (4.0), R4B (4.3) and R5 (5.0)`,
    );
  }
  const charset = media?.params.get('charset')?.toLowerCase();
  if (charset !== undefined && !CHARSETS.has(charset)) {
    throw OperationOutcomeError.unsupportedMediaType('send the body as UTF-8');
  }
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') return undefined;
  const declaredJson = !media || JSON_TYPES.has(media.type) || media.type.endsWith('+json');
  if (!declaredJson && !LENIENT_TYPES.has(media.type)) {
    throw OperationOutcomeError.unsupportedMediaType('send application/fhir+json or application/json');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    if (!declaredJson)
      throw OperationOutcomeError.unsupportedMediaType('send application/fhir+json or application/json');
    throw OperationOutcomeError.badRequest('the body is not valid JSON');
  }
  if (UNSTORABLE.test(text)) {
    throw OperationOutcomeError.badRequest('the body holds a NUL character or an unpaired surrogate escape');
  }
  return body;
}

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Secret } from '@aegle/config';

/** Constant-time comparison (hashing first makes the lengths equal, so length leaks nothing). */
export function tokenMatches(presented: string | undefined, expected: Secret): boolean {
  if (!presented) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected.reveal()).digest();
  return timingSafeEqual(a, b);
}

export function bearerOf(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  return match?.[1].trim();
}

/** Medplum-style `X-Signature`: hex HMAC-SHA256 of the raw body bytes with the source's secret. */
export function signatureMatches(
  body: Buffer,
  header: string | string[] | undefined,
  secret: Secret,
): boolean {
  if (typeof header !== 'string' || !/^[a-f0-9]{64}$/i.test(header.trim())) return false;
  const expected = createHmac('sha256', secret.reveal()).update(body).digest();
  return timingSafeEqual(Buffer.from(header.trim().toLowerCase(), 'hex'), expected);
}

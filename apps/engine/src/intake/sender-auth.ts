import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { Secret } from '@aegle/config';

/** Each configured token's hash, computed once rather than on every request. */
const expectedHashes = new WeakMap<Secret, Buffer>();

/** Constant-time comparison (hashing first makes the lengths equal, so length leaks nothing). */
export function tokenMatches(presented: string | undefined, expected: Secret): boolean {
  if (!presented) return false;
  let b = expectedHashes.get(expected);
  if (!b) expectedHashes.set(expected, (b = hash('sha256', expected.reveal(), 'buffer')));
  return timingSafeEqual(hash('sha256', presented, 'buffer'), b);
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

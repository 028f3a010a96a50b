import { createHmac } from 'node:crypto';
import { Secret } from '@aegle/config';
import { bearerOf, signatureMatches, tokenMatches } from './sender-auth';

describe('sender authentication', () => {
  const secret = new Secret('shared-secret-1');

  it('accepts the exact bearer token only', () => {
    expect(tokenMatches('shared-secret-1', secret)).toBe(true);
    expect(tokenMatches('shared-secret-2', secret)).toBe(false);
    expect(tokenMatches('shared-secret-1 ', secret)).toBe(false);
    expect(tokenMatches(undefined, secret)).toBe(false);
  });

  it('reads the bearer scheme case-insensitively', () => {
    expect(bearerOf('Bearer abc')).toBe('abc');
    expect(bearerOf('bearer  abc ')).toBe('abc');
    expect(bearerOf('Basic abc')).toBeUndefined();
    expect(bearerOf(undefined)).toBeUndefined();
  });

  it('verifies X-Signature as hex HMAC-SHA256 of the raw bytes', () => {
    const body = Buffer.from('{"resourceType":"Patient","id":"1"}');
    const good = createHmac('sha256', 'shared-secret-1').update(body).digest('hex');
    expect(signatureMatches(body, good, secret)).toBe(true);
    expect(signatureMatches(body, good.toUpperCase(), secret)).toBe(true);
    expect(signatureMatches(Buffer.from(`${body} `), good, secret)).toBe(false);
    expect(signatureMatches(body, 'zz', secret)).toBe(false);
    expect(signatureMatches(body, undefined, secret)).toBe(false);
  });
});

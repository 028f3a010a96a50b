import { OperationOutcomeError } from '@aegle/fhir';
import { readNotificationBody } from './notification-body';

const statusOf = (body: string, contentType?: string): number | 'ok' => {
  try {
    readNotificationBody(Buffer.from(body), contentType);
    return 'ok';
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.status;
    throw error;
  }
};

describe('readNotificationBody', () => {
  it.each([
    ['application/fhir+json'],
    ['application/json; charset=utf-8'],
    ['application/fhir+json; fhirVersion=4.0'],
    ['application/fhir+json; fhirVersion=4.3'],
    ['application/fhir+json; fhirVersion=5.0'],
    ['application/json+fhir'],
    ['text/plain'],
    ['text/plain; charset=UTF-8'],
    [undefined],
  ])('reads a JSON body sent as %s', (contentType) => {
    expect(statusOf('{"resourceType":"Patient","id":"1"}', contentType)).toBe('ok');
  });

  it('reads an empty body (a ping) under any type, and strips a byte-order mark', () => {
    expect(readNotificationBody(Buffer.alloc(0), 'text/html')).toBeUndefined();
    expect(readNotificationBody(Buffer.from('\uFEFF{"a":1}'), 'application/json')).toEqual({ a: 1 });
  });

  it.each<[string, string | undefined, number]>([
    ['not json', 'text/plain', 415],
    ['<Patient/>', 'application/xml', 415],
    ['{"a":1}', 'application/xml', 415],
    ['{"a":', 'application/fhir+json', 400],
    ['{"a":1}', 'application/json; charset=iso-8859-1', 415],
    ['{"a":1}', 'application/fhir+json; fhirVersion=3.0', 422],
    ['{"a":"x\\u0000y"}', 'application/json', 400],
    ['{"a":"\\ud800"}', 'application/json', 400],
  ])('refuses %j as %s with %i', (body, contentType, status) => {
    expect(statusOf(body, contentType)).toBe(status);
  });

  it('keeps a correctly paired surrogate escape', () => {
    expect(statusOf('{"a":"\\ud83d\\ude00"}', 'application/json')).toBe('ok');
  });
});

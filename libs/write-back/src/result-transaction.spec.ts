import { buildObservation, ModelIdentity, SUPERSEDED_BY_EXTENSION } from '@aegle/plugin-sdk/engine';
import { liveEarlierResults, PartialWriteError, resultTransaction } from './result-transaction';

const model: ModelIdentity = {
  pluginId: 'prognosis-ascvd-pce',
  version: '1.0.0',
  title: 'PCE',
  publisher: 'Aegle',
  modelSha256: 'b'.repeat(64),
};

function observation(identifier: string, effective: string, id?: string): fhir4.Observation {
  return {
    ...buildObservation({
      identifier,
      status: 'preliminary',
      code: { system: 'http://loinc.org', code: '79423-0' },
      subject: 'Patient/p',
      effective,
      issued: effective,
      value: 5,
      unit: '%',
      derivedFrom: [],
      device: 'Device/d',
      model,
    }),
    ...(id ? { id, meta: { versionId: '3' } } : {}),
  };
}

const provenance = { recorded: '2026-11-28T00:00:00Z', device: 'Device/d', organization: 'Org', sources: [] };

describe('resultTransaction', () => {
  it('writes the Observation and its Provenance conditionally, in one transaction', () => {
    const { bundle } = resultTransaction({
      observation: observation('new', '2026-11-02T00:00:00Z'),
      identifier: 'new',
      provenance,
      earlier: [],
      mode: 'amended',
      now: '2026-11-28T00:00:00Z',
    });
    expect(bundle.type).toBe('transaction');
    const [obs, prov] = bundle.entry!;
    expect(obs.request).toEqual({
      method: 'POST',
      url: 'Observation',
      ifNoneExist: 'identifier=https://fhir.aegle.dev/sid/result-key|new',
    });
    expect(prov.request).toEqual({ method: 'POST', url: 'Provenance', ifNoneExist: `target=${obs.fullUrl}` });
    expect((prov.resource as fhir4.Provenance).target[0].reference).toBe(obs.fullUrl);
  });

  it('supersedes older results with If-Match and links the new one to the latest of them', () => {
    const older = observation('old', '2026-11-01T00:00:00Z', 'o1');
    const { bundle, read } = resultTransaction({
      observation: observation('new', '2026-11-02T00:00:00Z'),
      identifier: 'new',
      provenance,
      earlier: [older],
      mode: 'cancelled',
      now: '2026-11-28T00:00:00Z',
    });
    const [obs, , put] = bundle.entry!;
    expect((obs.resource as fhir4.Observation).extension?.[0].valueReference?.reference).toBe(
      'Observation/o1',
    );
    expect(put.request).toEqual({ method: 'PUT', url: 'Observation/o1', ifMatch: 'W/"3"' });
    expect(put.resource).toMatchObject({
      status: 'cancelled',
      extension: [{ url: SUPERSEDED_BY_EXTENSION, valueReference: { reference: obs.fullUrl } }],
    });
    expect(
      read({
        resourceType: 'Bundle',
        type: 'transaction-response',
        entry: [
          { response: { status: '201 Created', location: 'Observation/n1/_history/1' } },
          { response: { status: '201 Created', location: 'Provenance/p1/_history/1' } },
          { response: { status: '200 OK', location: 'Observation/o1/_history/4' } },
        ],
      }),
    ).toEqual({ observationId: 'n1', created: true, superseded: ['o1'] });
  });

  it('reads every entry: a 200 transaction-response with a failed entry is a partial write, not a result', () => {
    const { read } = resultTransaction({
      observation: observation('new', '2026-11-02T00:00:00Z'),
      identifier: 'new',
      provenance,
      earlier: [observation('old', '2026-11-01T00:00:00Z', 'o1')],
      mode: 'amended',
      now: '2026-11-28T00:00:00Z',
    });
    const answer = (...statuses: string[]): fhir4.Bundle => ({
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: statuses.map((status) => ({ response: { status, location: 'Observation/n1/_history/1' } })),
    });
    const partial = (() => {
      try {
        read(answer('201 Created', '201 Created', '412 Precondition Failed'));
      } catch (error) {
        return error;
      }
    })() as PartialWriteError;
    expect(partial).toBeInstanceOf(PartialWriteError);
    expect(partial).toMatchObject({ landed: 2, observationCreated: true, status: 412, retryable: true });
    expect(partial.message).toMatch(/supersession of Observation\/o1: 412.*not atomic/);
    // A refusal outranks a transient fault: the result is a dead letter, not retried forever.
    expect(() => read(answer('201', '500', '400'))).toThrow(expect.objectContaining({ status: 400 }));
    // A response with fewer entries than were sent did not write the missing ones.
    expect(() => read(answer('201', '201'))).toThrow(/supersession of Observation\/o1: no answer/);
  });

  it('writes a result from older inputs than one already there as superseded at once', () => {
    const newer = observation('newer', '2026-11-05T00:00:00Z', 'n9');
    const { bundle } = resultTransaction({
      observation: observation('late', '2026-11-02T00:00:00Z'),
      identifier: 'late',
      provenance,
      earlier: [newer],
      mode: 'amended',
      now: '2026-11-28T00:00:00Z',
    });
    expect(bundle.entry).toHaveLength(2);
    expect(bundle.entry![0].resource).toMatchObject({
      status: 'amended',
      extension: [{ url: SUPERSEDED_BY_EXTENSION, valueReference: { reference: 'Observation/n9' } }],
    });
  });

  it('dates an earlier result by its effective period as the inputs are dated, not by when it was issued', () => {
    // Issued after the new result's time, but it happened before: it is older, and superseded.
    const { effectiveDateTime: _, ...base } = observation('old', '2026-11-01T00:00:00Z', 'o1');
    const periodic: fhir4.Observation = {
      ...base,
      effectivePeriod: { start: '2026-10-30T00:00:00Z', end: '2026-11-01T00:00:00Z' },
      issued: '2026-11-20T00:00:00Z',
    };
    const { bundle } = resultTransaction({
      observation: observation('new', '2026-11-02T00:00:00Z'),
      identifier: 'new',
      provenance,
      earlier: [periodic],
      mode: 'cancelled',
      now: '2026-11-28T00:00:00Z',
    });
    expect(bundle.entry!.map((e) => e.request?.url)).toEqual(['Observation', 'Provenance', 'Observation/o1']);
  });

  it('leaves earlier results alone when superseding is off', () => {
    const { bundle } = resultTransaction({
      observation: observation('new', '2026-11-02T00:00:00Z'),
      identifier: 'new',
      provenance,
      earlier: [observation('old', '2026-11-01T00:00:00Z', 'o1')],
      mode: 'none',
      now: '2026-11-28T00:00:00Z',
    });
    expect(bundle.entry).toHaveLength(2);
    expect(bundle.entry![0].resource).not.toHaveProperty('extension');
  });

  it('considers only live Aegle results other than this one', () => {
    const live = observation('a', '2026-11-01T00:00:00Z', 'a');
    const same = observation('self', '2026-11-01T00:00:00Z', 's');
    const gone = { ...observation('b', '2026-11-01T00:00:00Z', 'b'), status: 'cancelled' as const };
    const replaced = {
      ...observation('c', '2026-11-01T00:00:00Z', 'c'),
      extension: [{ url: SUPERSEDED_BY_EXTENSION, valueReference: { reference: 'Observation/x' } }],
    };
    const foreign = { ...live, id: 'f', identifier: [{ system: 'urn:other', value: 'x' }] };
    expect(liveEarlierResults([live, same, gone, replaced, foreign], 'self').map((o) => o.id)).toEqual(['a']);
  });
});

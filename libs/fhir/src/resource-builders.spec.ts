import { validateR4 } from '../../../test/support/fhir-validation';
import {
  buildDevice,
  buildObservation,
  buildProvenance,
  ModelIdentity,
  ObservationDraft,
  OBSERVATION_REPLACES_EXTENSION,
  resultKey,
  SUPERSEDED_BY_EXTENSION,
  supersedeObservation,
} from './resource-builders';

const model: ModelIdentity = {
  pluginId: 'diagnosis-breast-fna-wdbc',
  version: '2.1.0',
  title: 'Breast FNA malignancy',
  publisher: 'Aegle reference plugins',
  modelSha256: 'a'.repeat(64),
  modelCardUrl: 'https://models.example.org/wdbc/2.1.0',
};

const draft: ObservationDraft = {
  identifier: 'k1',
  status: 'preliminary',
  code: { system: 'http://loinc.org', code: '79423-0', display: 'Cardiovascular disease 10Y risk' },
  category: { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'survey' },
  subject: 'Patient/p1',
  encounter: 'Encounter/e1',
  effective: '2026-11-01T10:00:00Z',
  issued: '2026-11-28T12:00:00.000Z',
  value: 12.3,
  unit: '%',
  interpretation: {
    text: 'Intermediate',
    coding: { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H' },
  },
  referenceRange: { low: 0, high: 7.5, text: 'below 7.5% is low or borderline' },
  derivedFrom: ['Observation/tc/_history/2', 'Patient/p1/_history/1', 'Condition/c1/_history/1'],
  device: 'Device/d1',
  method: 'Pooled Cohort Equations',
  model,
};

describe('resource builders', () => {
  it('builds a complete Observation that is valid R4 and says a model made it', () => {
    const observation = buildObservation(draft);
    validateR4(observation as never);
    expect(observation).toMatchObject({
      status: 'preliminary',
      encounter: { reference: 'Encounter/e1' },
      effectiveDateTime: '2026-11-01T10:00:00Z',
      valueQuantity: { value: 12.3, system: 'http://unitsofmeasure.org', code: '%' },
      referenceRange: [{ low: { value: 0, code: '%' }, high: { value: 7.5 } }],
      method: { text: 'Pooled Cohort Equations' },
      device: { reference: 'Device/d1' },
    });
    expect(observation.meta?.security?.[0].code).toBe('AIAST');
    expect(observation.meta?.tag?.[0].code).toBe(model.pluginId);
    expect(observation.note?.[0].text).toContain('diagnosis-breast-fna-wdbc 2.1.0');
    // R4 allows no Patient or Condition in derivedFrom.
    expect(observation.derivedFrom).toEqual([{ reference: 'Observation/tc/_history/2' }]);
  });

  it('carries several values under one code as components', () => {
    const observation = buildObservation({
      ...draft,
      value: undefined,
      referenceRange: undefined,
      interpretation: undefined,
      components: [
        { code: { system: 'http://example.org/c', code: 'malignant' }, value: 0.91, unit: '1' },
        {
          code: { system: 'http://example.org/c', code: 'benign' },
          value: 0.09,
          unit: '1',
          interpretation: { text: 'unlikely' },
          referenceRange: { high: 0.5 },
        },
      ],
    });
    validateR4(observation as never);
    expect(observation.valueQuantity).toBeUndefined();
    expect(observation.component).toHaveLength(2);
    expect(observation.component?.[1]).toMatchObject({
      valueQuantity: { value: 0.09, code: '1' },
      interpretation: [{ text: 'unlikely' }],
      referenceRange: [{ high: { value: 0.5 } }],
    });
  });

  it('links a result to the one it replaces with the R4 core extension', () => {
    const observation = buildObservation({ ...draft, replaces: 'Observation/old' });
    validateR4(observation as never);
    expect(observation.extension).toEqual([
      { url: OBSERVATION_REPLACES_EXTENSION, valueReference: { reference: 'Observation/old' } },
    ]);
  });

  it.each(['amended', 'cancelled', 'replaces'] as const)(
    'marks a superseded Observation visibly (%s)',
    (mode) => {
      const earlier = { ...buildObservation(draft), id: 'old' };
      const superseded = supersedeObservation(earlier, { by: 'Observation/new', mode, at: draft.issued });
      validateR4(superseded as never);
      expect(superseded.status).toBe(mode === 'replaces' ? 'preliminary' : mode);
      expect(superseded.extension).toEqual([
        { url: SUPERSEDED_BY_EXTENSION, valueReference: { reference: 'Observation/new' } },
      ]);
      expect(superseded.note?.at(-1)).toMatchObject({
        time: draft.issued,
        text: expect.stringMatching(/^Superseded/),
      });
      expect(superseded.note).toHaveLength(2);
    },
  );

  it('builds a valid Device with names, version, sha256, software type and the model card', () => {
    const device = buildDevice(model);
    validateR4(device as never);
    expect(device).toMatchObject({ manufacturer: model.publisher, url: model.modelCardUrl });
    expect(device.version).toEqual([
      { value: '2.1.0' },
      { type: { text: 'model sha256' }, value: model.modelSha256 },
    ]);
  });

  it('builds a valid Provenance with the Device as author on behalf of the organisation', () => {
    const provenance = buildProvenance({
      target: 'Observation/o1',
      recorded: draft.issued,
      device: 'Device/d1',
      organization: 'St Elsewhere',
      sources: draft.derivedFrom,
    });
    validateR4(provenance as never);
    expect(provenance.agent[0]).toMatchObject({
      who: { reference: 'Device/d1' },
      onBehalfOf: { display: 'St Elsewhere' },
    });
    expect(provenance.entity).toHaveLength(3);
  });

  it('keys a result by source, plugin version, focus version and output', () => {
    const parts = {
      sourceId: 's',
      pluginId: 'p',
      version: '1.0.0',
      focus: 'Observation/x/_history/1',
      output: 'c',
    };
    expect(resultKey(parts)).toBe(resultKey({ ...parts }));
    expect(resultKey(parts)).not.toBe(resultKey({ ...parts, focus: 'Observation/x/_history/2' }));
    expect(resultKey(parts)).not.toBe(resultKey({ ...parts, version: '1.0.1' }));
  });
});

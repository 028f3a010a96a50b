import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PCE_DIR, pluginVariant, removeFolder } from '../../../test/support/plugin-fixtures';
import { BundlePatientData, runPlugin } from './harness';
import { gatherInputs } from './inputs';
import { manifestSchema, PluginManifestInput } from './manifest';

const golden = (name: string) =>
  JSON.parse(readFileSync(join(PCE_DIR, 'golden', name), 'utf8')) as {
    bundle: fhir4.Bundle;
    now: string;
    focus?: string;
  };
const complete = golden('complete-patient.json');
const PART_2 = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: '42CFRPart2' };

function labelled(bundle: fhir4.Bundle, id: string, label: fhir4.Coding): fhir4.Bundle {
  const copy = structuredClone(bundle);
  const resource = copy.entry!.find((e) => e.resource?.id === id)!.resource!;
  resource.meta = { security: [label] };
  return copy;
}

describe('evaluating a plugin (the pipeline Aegle and the harness share)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aegle-evaluate-'));
  });
  afterAll(() => removeFolder(root));

  describe('data scope: restricted security labels', () => {
    it('never gives a 42 CFR Part 2 focus to a plugin not allowed it, and says why', async () => {
      const result = await runPlugin(PCE_DIR, labelled(complete.bundle, 'tc-1', PART_2), {
        now: complete.now,
        focus: 'Observation/tc-1',
      });
      expect(result).toEqual({
        status: 'skipped',
        reason:
          'restricted data: the focus Observation/tc-1 carries restricted security label http://terminology.hl7.org/CodeSystem/v3-ActCode|42CFRPart2, which the plugin is not allowed',
        features: {},
      });
    });

    it('skips when any input resource (here the Patient) is very restricted', async () => {
      const result = await runPlugin(
        PCE_DIR,
        labelled(complete.bundle, 'golden-1', {
          system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
          code: 'V',
        }),
        { now: complete.now, focus: 'Observation/tc-1' },
      );
      expect(result.status === 'skipped' && result.reason).toMatch(
        /^restricted data: the input Patient\/golden-1 carries .*v3-Confidentiality\|V/,
      );
    });

    it('runs on labelled data when the plugin’s scope allows the label, and ignores unrestricted labels', async () => {
      const allowed = await pluginVariant(root, 'part2-allowed', (m) => {
        m.dataScope.securityLabels = ['http://terminology.hl7.org/CodeSystem/v3-ActCode|42CFRPart2'];
      });
      const result = await runPlugin(allowed, labelled(complete.bundle, 'tc-1', PART_2), {
        now: complete.now,
        focus: 'Observation/tc-1',
      });
      expect(result.status).toBe('succeeded');
      const normal = await runPlugin(
        PCE_DIR,
        labelled(complete.bundle, 'tc-1', {
          system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
          code: 'N',
        }),
        { now: complete.now, focus: 'Observation/tc-1' },
      );
      expect(normal.status).toBe('succeeded');
    });
  });

  describe('definePlugin: code for what the manifest cannot say', () => {
    it('extract() computes declared features from the record; interpret() adjusts findings', async () => {
      const dir = await pluginVariant(
        root,
        'with-code',
        (m) => {
          // Race from the plugin's code rather than the manifest, to exercise extract().
          m.inputs[8] = { name: 'africanAmerican', source: { from: 'plugin' } };
        },
        {
          'index.ts': `import { definePlugin } from '@aegle/plugin-sdk';
export default definePlugin({
  async extract({ data, features }) {
    const patient = await data.patient();
    const black = JSON.stringify(patient?.extension ?? []).includes('2054-5');
    return { africanAmerican: features.age.value > 0 ? (black ? 1 : 0) : undefined };
  },
  interpret({ findings }) {
    return findings.map((f) => ({ ...f, value: Math.round(f.value) }));
  },
});
`,
        },
      );
      const result = await runPlugin(dir, complete.bundle, { now: complete.now, focus: 'Observation/tc-1' });
      expect(result.status).toBe('succeeded');
      if (result.status !== 'succeeded') return;
      expect(result.features.africanAmerican).toEqual({ name: 'africanAmerican', value: 0 });
      expect(result.observations[0].valueQuantity?.value).toBe(2); // 2.1 rounded by interpret()
    });

    it('a feature extract() cannot compute makes the run skip with the plugin’s own words', async () => {
      const dir = await pluginVariant(
        root,
        'extract-missing',
        (m) => {
          m.inputs[8] = {
            name: 'africanAmerican',
            source: { from: 'plugin' },
            ifMissing: 'race is not recorded',
          };
        },
        {
          'index.ts': `import { definePlugin } from '@aegle/plugin-sdk';\nexport default definePlugin({ extract: () => ({}) });\n`,
        },
      );
      const result = await runPlugin(dir, complete.bundle, { now: complete.now, focus: 'Observation/tc-1' });
      expect(result).toMatchObject({
        status: 'skipped',
        reason: 'insufficient data: africanAmerican: race is not recorded',
      });
    });

    it('a throw in the plugin’s code propagates, for the caller to record a failed run', async () => {
      const dir = await pluginVariant(
        root,
        'throws',
        (m) => {
          m.inputs[8] = { name: 'africanAmerican', source: { from: 'plugin' } };
        },
        {
          'index.ts': `import { definePlugin } from '@aegle/plugin-sdk';\nexport default definePlugin({ extract() { throw new Error('vendor bug'); } });\n`,
        },
      );
      await expect(
        runPlugin(dir, complete.bundle, { now: complete.now, focus: 'Observation/tc-1' }),
      ).rejects.toThrow('vendor bug');
    });
  });

  describe('coded inputs: a pharmacogenetic genotype (as the warfarin plugin needs)', () => {
    const CYP2C9 = 'HGNC:2623';
    const VKORC1 = 'HGNC:23663';
    const genotype = (id: string, gene: string, call: string): fhir4.Observation => ({
      resourceType: 'Observation',
      id,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '84413-4', display: 'Genotype display name' }] },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2025-01-10',
      valueCodeableConcept: { text: call },
      component: [
        {
          code: { coding: [{ system: 'http://loinc.org', code: '48018-6', display: 'Gene studied [ID]' }] },
          valueCodeableConcept: { coding: [{ system: 'http://www.genenames.org', code: gene }] },
        },
      ],
    });
    const geneInput = (name: string, gene: string, map: Record<string, number>) => ({
      name,
      source: {
        from: 'observation' as const,
        codes: ['http://loinc.org|84413-4'],
        path: `where(component.where(code.coding.where(system = 'http://loinc.org' and code = '48018-6').exists()).value.coding.where(system = 'http://www.genenames.org' and code = '${gene}').exists()).value`,
      },
      map,
      ifMissing: `no ${name.replace('Genotype', '').toUpperCase()} genotype: the pharmacogenetic algorithm cannot run`,
    });
    const input: PluginManifestInput = JSON.parse(readFileSync(join(PCE_DIR, 'plugin.json'), 'utf8'));
    const manifest = manifestSchema.parse({
      ...input,
      id: 'treatment-genotype-demo',
      kind: 'treatment',
      inputs: [
        geneInput('cyp2c9Genotype', CYP2C9, {
          '*1/*1': 0,
          '*1/*2': 1,
          '*1/*3': 2,
          '*2/*2': 3,
          '*2/*3': 4,
          '*3/*3': 5,
        }),
        geneInput('vkorc1Genotype', VKORC1, { 'G/G': 0, 'A/G': 1, 'A/A': 2 }),
      ],
      model: {
        ...input.model,
        inputs: [{ ...input.model.inputs[0], features: ['cyp2c9Genotype', 'vkorc1Genotype'] }],
      },
    });
    const bundleOf = (...resources: fhir4.Resource[]): fhir4.Bundle => ({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'Patient', id: 'p1' } },
        ...resources.map((resource) => ({ resource: resource as fhir4.FhirResource })),
      ],
    });

    it('maps each gene’s genotype call to its category index', async () => {
      const data = new BundlePatientData(
        bundleOf(genotype('g1', CYP2C9, '*1/*3'), genotype('g2', VKORC1, 'A/G')),
      );
      const result = await gatherInputs(manifest, data, new Date('2026-01-01'));
      expect(result.status).toBe('complete');
      expect(result.features.cyp2c9Genotype).toMatchObject({
        value: 2,
        source: { reference: 'Observation/g1' },
      });
      expect(result.features.vkorc1Genotype).toMatchObject({
        value: 1,
        source: { reference: 'Observation/g2' },
      });
    });

    it('says the pharmacogenetic algorithm cannot run when a genotype is missing', async () => {
      const data = new BundlePatientData(bundleOf(genotype('g2', VKORC1, 'A/A')));
      const result = await gatherInputs(manifest, data, new Date('2026-01-01'));
      expect(result).toMatchObject({
        status: 'insufficient',
        reasons: ['cyp2c9Genotype: no CYP2C9 genotype: the pharmacogenetic algorithm cannot run'],
      });
    });

    it('names a genotype call the model does not know', async () => {
      const data = new BundlePatientData(
        bundleOf(genotype('g1', CYP2C9, '*1/*11'), genotype('g2', VKORC1, 'A/A')),
      );
      const result = await gatherInputs(manifest, data, new Date('2026-01-01'));
      expect(result).toMatchObject({
        status: 'insufficient',
        reasons: ['cyp2c9Genotype: "*1/*11" is not a value the model knows'],
      });
    });
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeManifestIssues, parseManifest, PluginRejection } from './loader';
import { manifestSchema, PluginManifestInput } from './manifest';

const PCE = join(__dirname, '..', '..', '..', 'plugins', 'prognosis-ascvd-pce', 'plugin.json');
const pce = (): PluginManifestInput => JSON.parse(readFileSync(PCE, 'utf8')) as PluginManifestInput;

/** The messages Aegle and `aegle plugin validate` print for this manifest. */
function problems(manifest: unknown): string[] {
  try {
    parseManifest(manifest);
    return [];
  } catch (error) {
    if (error instanceof PluginRejection) return error.problems;
    throw error;
  }
}

describe('plugin.json schema: each mistake gets one precise message', () => {
  it('accepts the PCE reference manifest', () => {
    expect(problems(pce())).toEqual([]);
  });

  it('rejects an unknown key, naming it and where it is', () => {
    const manifest = { ...pce(), colour: 'blue' };
    manifest.inputs[1] = { ...manifest.inputs[1], units: 'mg/dL' } as never;
    expect(problems(manifest)).toEqual([
      'plugin.json inputs.1 ("totalCholesterol"): Unrecognized key: "units"',
      'plugin.json (root): Unrecognized key: "colour"',
    ]);
  });

  it('checks the version is semver and the SDK field a range', () => {
    expect(problems({ ...pce(), version: '1.0' })).toEqual([
      'plugin.json version: must be a semantic version such as 1.2.0',
    ]);
    expect(problems({ ...pce(), sdk: 'latest' })).toEqual([
      'plugin.json sdk: must be a semver range such as ^0.1.0',
    ]);
  });

  it('says which SDK the plugin needs when this one is outside its range', () => {
    expect(problems({ ...pce(), sdk: '^2.0.0' })).toEqual([
      'plugin.json sdk: the plugin needs SDK ^2.0.0, this Aegle provides 0.1.0',
    ]);
  });

  it('needs exactly one of resourceType or after in a trigger', () => {
    const m = pce();
    m.triggers = [
      {},
      { resourceType: 'Patient', after: 'prognosis-other' },
      { after: 'prognosis-other', criteria: 'true' },
    ];
    expect(problems(m)).toEqual([
      'plugin.json triggers.0: needs exactly one of resourceType or after',
      'plugin.json triggers.1: needs exactly one of resourceType or after',
      'plugin.json triggers.2.criteria: applies to a resourceType trigger only, not to after',
    ]);
  });

  it('rejects a plugin chained after itself', () => {
    expect(problems({ ...pce(), triggers: [{ after: 'prognosis-ascvd-pce' }] })).toEqual([
      'plugin.json triggers.0.after: a plugin cannot follow itself',
    ]);
  });

  it('rejects inputs and triggers whose resource types are outside the data scope', () => {
    const m = pce();
    m.dataScope = { resourceTypes: ['Patient', 'Observation'] };
    m.triggers.push({ resourceType: 'Encounter' });
    expect(problems(m)).toEqual([
      'plugin.json triggers.2.resourceType: Encounter is outside dataScope.resourceTypes (Patient, Observation)',
      'plugin.json inputs.4.source ("bpTreated"): "bpTreated" reads MedicationStatement and MedicationRequest, outside dataScope.resourceTypes (Patient, Observation)',
      'plugin.json inputs.6.source ("diabetes"): "diabetes" reads Condition, outside dataScope.resourceTypes (Patient, Observation)',
      'plugin.json exclusions.0: "clinical ASCVD (the equations are for primary prevention only)" reads Condition, outside dataScope.resourceTypes (Patient, Observation)',
    ]);
  });

  it('requires the data scope', () => {
    const { dataScope: _, ...m } = pce();
    expect(problems(m)).toEqual([
      'plugin.json dataScope: Invalid input: expected object, received undefined',
    ]);
  });

  it('checks allowed security labels are system|code', () => {
    const m = pce();
    m.dataScope.securityLabels = ['42CFRPart2'];
    expect(problems(m)).toEqual([
      'plugin.json dataScope.securityLabels.0: must be system|code, e.g. http://loinc.org|2093-3',
    ]);
  });

  it('names the unknown input a tensor lists and the unknown tensor an output reads', () => {
    const m = pce();
    m.model.inputs[0].features[8] = 'ethnicity';
    m.outputs[0].tensor = 'probability';
    expect(problems(m)).toEqual([
      'plugin.json model.inputs.0.features.8: no input named "ethnicity"',
      'plugin.json outputs.0.tensor ("probability"): no model output named "probability"',
    ]);
  });

  it('catches a duplicate input, a default that can never apply and otherwise without a map', () => {
    const m = pce();
    m.inputs.push({ ...m.inputs[0] });
    m.inputs[1] = { ...m.inputs[1], default: 200 };
    m.inputs[2] = { ...m.inputs[2], otherwise: 0 };
    expect(problems(m)).toEqual([
      'plugin.json inputs.1.default ("totalCholesterol"): "totalCholesterol" is required, so its default would never be used: set "required": false',
      'plugin.json inputs.1.notes.default ("totalCholesterol"): "totalCholesterol" uses default: say in notes.default what the result\'s note tells the clinician',
      'plugin.json inputs.2.otherwise ("hdlCholesterol"): needs a map',
      'plugin.json inputs.2.notes.otherwise ("hdlCholesterol"): "hdlCholesterol" uses otherwise: say in notes.otherwise what the result\'s note tells the clinician',
      'plugin.json inputs.9.name ("age"): "age" is declared twice',
    ]);
  });

  it('names the allowed input sources when one is unknown', () => {
    const m = pce();
    m.inputs[0] = { ...m.inputs[0], source: { from: 'lab' } as never };
    expect(problems(m)).toEqual([
      `plugin.json inputs.0.source.from ("age"): Invalid discriminator value. Expected 'patient' | 'age' | 'observation' | 'member' | 'genotype' | 'condition' | 'medication' | 'plugin' | 'image'`,
    ]);
  });

  it('checks the id starts with the kind', () => {
    expect(problems({ ...pce(), kind: 'diagnosis' })).toEqual([
      'plugin.json id: must start with its kind, "diagnosis-"',
    ]);
  });

  it('keeps zod issues and plugin.json paths together (describeManifestIssues)', () => {
    const parsed = manifestSchema.safeParse({ ...pce(), kind: 'screening' });
    expect(parsed.success).toBe(false);
    expect(describeManifestIssues(parsed.error!, pce())).toEqual([
      'plugin.json kind: Invalid option: expected one of "diagnosis"|"treatment"|"prognosis"',
    ]);
  });
});

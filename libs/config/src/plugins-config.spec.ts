import { ConfigError, loadConfig } from './load-config';
import { PLUGIN_ID_RULE } from './plugin-id';

const source = {
  id: 'ehr',
  fhirBaseUrl: 'http://127.0.0.1:8080/fhir',
  inbound: { bearerToken: 'a-long-enough-token' },
};

function problems(plugins: unknown): string[] {
  try {
    loadConfig({}, { sources: [source], plugins });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.replace(/^.*? plugins/, 'plugins'));
    throw error;
  }
}

describe('plugins configuration', () => {
  it('defaults to the plugins folder, no packages, no rollout and no limits', () => {
    const config = loadConfig({}, { sources: [source] });
    expect(config.plugins).toEqual({ dirs: ['plugins'], packages: [], rollout: {}, limits: {} });
  });

  it('accepts a rollout with a pinned live version, a canary and shadows, and per-plugin limits', () => {
    const plugins = {
      packages: ['@acme/aegle-plugin-x'],
      rollout: {
        'prognosis-ascvd-pce': {
          live: '1.0.0',
          canary: { version: '1.1.0', percent: 10 },
          shadow: ['2.0.0-rc.1'],
        },
      },
      limits: { 'prognosis-ascvd-pce': { timeoutMs: 5000, maxConcurrency: 2 } },
    };
    expect(loadConfig({}, { sources: [source], plugins }).plugins).toEqual({ dirs: ['plugins'], ...plugins });
  });

  it('takes plugin ids by the rule manifests follow: a key no plugin can have is refused', () => {
    const settings = { live: '1.0.0' };
    expect(
      problems({
        rollout: {
          'prognosis-ascvd-': settings,
          'prognosis--pce': settings,
          'prognosis-ascvd-pce': settings,
        },
      }),
    ).toEqual([
      `plugins.rollout.prognosis-ascvd-: is not a plugin id (${PLUGIN_ID_RULE})`,
      `plugins.rollout.prognosis--pce: is not a plugin id (${PLUGIN_ID_RULE})`,
    ]);
  });

  it('names each mistake in a rollout', () => {
    expect(
      problems({
        rollout: {
          'prognosis-ascvd-pce': { live: 'latest', canary: { version: '1.1.0', percent: 150 } },
          'prognosis-other': { live: '1.0.0', canary: { version: '1.0.0', percent: 5 } },
          PCE: {},
        },
        limits: { 'prognosis-ascvd-pce': { timeoutMs: 0, retries: 3 } },
      }),
    ).toEqual([
      'plugins.rollout.prognosis-ascvd-pce.live: must be a version such as 1.2.0',
      'plugins.rollout.prognosis-ascvd-pce.canary.percent: Too big: expected number to be <=100',
      'plugins.rollout.prognosis-other: canary.version must differ from live',
      `plugins.rollout.PCE: is not a plugin id (${PLUGIN_ID_RULE})`,
      'plugins.limits.prognosis-ascvd-pce.timeoutMs: Too small: expected number to be >0',
      'plugins.limits.prognosis-ascvd-pce: Unrecognized key: "retries"',
    ]);
  });

  it('takes npm package names only in packages: no version, no path', () => {
    expect(problems({ packages: ['prognosis-vendor-x', '@acme/aegle-plugin-x'] })).toEqual([]);
    expect(problems({ packages: ['@acme/plugin@1.2.0', './plugins/x', 'Acme'] })).toEqual([
      'plugins.packages.0: must be an installed npm package name such as acme-plugin or @acme/plugin (no version, no path)',
      'plugins.packages.1: must be an installed npm package name such as acme-plugin or @acme/plugin (no version, no path)',
      'plugins.packages.2: must be an installed npm package name such as acme-plugin or @acme/plugin (no version, no path)',
    ]);
  });
});

import { Injectable } from '@nestjs/common';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { rcompare } from 'semver';
import { LoadedPlugin, PluginRegistry } from '@aegle/catalogue';
import { ModelHost } from '@aegle/runs';
import type { PluginsView, PluginVersionView, RolloutState } from '../admin/admin-api.types';

/** How a loaded version takes part: written (live, canary for a share of patients), audited only, or not run. */
/** Model cards are documents, not data dumps: a larger file is cut here. */
const MAX_CARD_BYTES = 256 * 1024;

/** The plugin registry as the console shows it: each version's rollout state and its model card. */
@Injectable()
export class ConsolePlugins {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly host: ModelHost,
  ) {}

  async view(): Promise<PluginsView> {
    const loaded = this.registry.all();
    const rollout = this.registry.current().rollout ?? {};
    const plugins = await Promise.all(
      loaded.map(async (p): Promise<PluginVersionView> => {
        const m = p.manifest;
        const card = m.modelCard;
        const isUrl = /^https?:\/\//.test(card);
        const versions = loaded.filter((o) => o.manifest.id === m.id).map((o) => o.manifest.version);
        const limits = this.registry.limitsOf(p);
        return {
          id: m.id,
          version: m.version,
          kind: m.kind,
          title: m.title,
          description: m.description ?? null,
          publisher: (m as { publisher?: string }).publisher ?? null,
          provider: this.host.providerOf(p.key) ?? null,
          execution: (m.model as { execution?: string }).execution ?? null,
          modelSha256: m.model.sha256,
          rollout: rolloutState(m.version, versions, rollout[m.id]),
          timeoutMs: limits.timeoutMs,
          maxConcurrency: limits.maxConcurrency,
          inputs: m.inputs.map((i) => ({
            name: i.name,
            label: (i as { label?: string }).label ?? null,
            unit: (i as { unit?: string }).unit ?? null,
            required: (i as { required?: boolean }).required !== false,
          })),
          modelCard: isUrl ? null : await readCard(p, card),
          modelCardUrl: isUrl ? card : null,
        };
      }),
    );
    plugins.sort((a, b) => a.id.localeCompare(b.id) || rcompare(a.version, b.version));
    return { plugins, rejected: this.registry.rejections() };
  }
}

type Rollout = ReturnType<PluginRegistry['current']>['rollout'][string] | undefined;

function rolloutState(version: string, loaded: string[], rollout: Rollout): RolloutState {
  const live = rollout?.live ?? [...loaded].sort(rcompare)[0];
  if (rollout?.canary?.version === version) return { mode: 'canary', percent: rollout.canary.percent };
  if (live === version) return { mode: 'live' };
  if (rollout?.shadow?.includes(version)) return { mode: 'shadow' };
  return { mode: 'idle' };
}

/** Reads the card only from inside the plugin's own folder. */
async function readCard(plugin: LoadedPlugin, card: string): Promise<string | null> {
  const path = resolve(plugin.dir, card);
  const inside = relative(plugin.dir, path);
  if (inside.startsWith('..') || isAbsolute(inside)) return null;
  try {
    if ((await stat(path)).size > MAX_CARD_BYTES)
      return (await readFile(path)).subarray(0, MAX_CARD_BYTES).toString('utf8') + '\n\n…(cut)';
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

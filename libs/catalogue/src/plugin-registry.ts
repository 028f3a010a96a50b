import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { readOnnxSignature } from '@aegle/inference';
import {
  checkModelMetadata,
  CompiledTrigger,
  follows,
  PluginCode,
  PluginManifest,
  PluginRejection,
  readPluginFolder,
  triggersOn,
} from '@aegle/plugin-sdk/engine';
import { RunMode, selectVersions } from './rollout';

/**
 * A plugin version that passed every check at load, its model's signature included. Whether this
 * process runs its model is the model host's business (libs/runs), not the catalogue's.
 */
export interface LoadedPlugin {
  manifest: PluginManifest;
  dir: string;
  /** The inference runtime's key: `id@version`. */
  key: string;
  triggers: CompiledTrigger[];
  code?: PluginCode;
}

export interface RejectedPlugin {
  dir: string;
  /** `id@version` when the manifest could be read that far. */
  plugin?: string;
  problems: string[];
}

/** One run to start: a plugin version and whether its result is written (live, canary) or only audited. */
export interface SelectedRun {
  plugin: LoadedPlugin;
  mode: RunMode;
}

type PluginsConfig = AegleConfig['plugins'];

/**
 * The catalogue: discovers plugins in the configured folders and npm packages and validates each
 * (the SDK's checks: manifest schema, SDK range, sha256, FHIRPath, code; then the model's own
 * tensor signature, read from the file). It opens no model session, so every role holds the same
 * catalogue and routes alike whatever its machine can run. Several versions of a plugin load side by side; the rollout config says which
 * run. A broken plugin is rejected with a message naming it; the rest of Aegle starts anyway.
 * {@link reload} adds new versions and applies a new rollout without stopping anything.
 */
@Injectable()
export class PluginRegistry implements OnModuleInit {
  private readonly logger = new Logger(PluginRegistry.name);
  private plugins = new Map<string, LoadedPlugin>();
  private rejected: RejectedPlugin[] = [];
  private settings: PluginsConfig;
  private reloading?: Promise<void>;

  constructor(@Inject(AEGLE_CONFIG) private readonly config: AegleConfig) {
    this.settings = config.plugins;
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
  }

  /**
   * Loads plugin versions not loaded yet and applies the (new) plugins config. Versions already
   * loaded keep serving throughout, so in-flight runs finish and a new version goes live at once.
   */
  reload(settings: PluginsConfig = this.settings): Promise<void> {
    const previous = this.reloading ?? Promise.resolve();
    const next = previous.then(() => this.doReload(settings));
    this.reloading = next.finally(() => {
      if (this.reloading === next) this.reloading = undefined;
    });
    return next;
  }

  all(): LoadedPlugin[] {
    return [...this.plugins.values()];
  }

  get(pluginId: string, version: string): LoadedPlugin | undefined {
    return this.plugins.get(`${pluginId}@${version}`);
  }

  rejections(): RejectedPlugin[] {
    return [...this.rejected];
  }

  /** The rollout and limits in force. */
  current(): PluginsConfig {
    return this.settings;
  }

  /** The runs this focus resource starts for this patient: versions chosen by rollout, then by trigger. */
  forFocus(resource: fhir4.Resource, patientKey: string): SelectedRun[] {
    return this.select(patientKey).filter((s) => triggersOn(s.plugin.triggers, resource));
  }

  /** The runs a successful run of `pluginId` chains into, for this patient. */
  after(pluginId: string, patientKey: string): SelectedRun[] {
    return this.select(patientKey).filter((s) => follows(s.plugin.triggers, pluginId));
  }

  /** The timeout and concurrency limit of a plugin version: config overrides, else its manifest. */
  limitsOf(plugin: LoadedPlugin): { timeoutMs: number; maxConcurrency: number } {
    const override = this.settings.limits[plugin.manifest.id];
    return {
      timeoutMs: override?.timeoutMs ?? plugin.manifest.policy.timeoutMs,
      maxConcurrency: override?.maxConcurrency ?? plugin.manifest.policy.maxConcurrency,
    };
  }

  private select(patientKey: string): SelectedRun[] {
    const versions = new Map<string, string[]>();
    for (const p of this.plugins.values()) {
      versions.set(p.manifest.id, [...(versions.get(p.manifest.id) ?? []), p.manifest.version]);
    }
    return [...versions].flatMap(([id, loaded]) =>
      selectVersions(id, loaded, this.settings.rollout[id], patientKey).map(({ version, mode }) => ({
        plugin: this.get(id, version)!,
        mode,
      })),
    );
  }

  private async doReload(settings: PluginsConfig): Promise<void> {
    const plugins = new Map(this.plugins);
    const rejected: RejectedPlugin[] = [];
    const dirs = await this.discover(settings, rejected);
    const loadedDirs = new Map([...plugins.values()].map((p) => [p.dir, p.key]));
    for (const dir of dirs) {
      if (loadedDirs.has(dir)) continue;
      try {
        const plugin = await this.load(dir, plugins);
        plugins.set(plugin.key, plugin);
        this.logger.log({ plugin: plugin.key }, 'plugin loaded');
      } catch (error) {
        const problems = error instanceof PluginRejection ? error.problems : [(error as Error).message];
        const plugin = (error as { plugin?: string }).plugin;
        rejected.push({ dir, ...(plugin ? { plugin } : {}), problems });
        this.logger.error({ dir, plugin, problems }, `plugin ${plugin ?? dir} rejected`);
      }
    }
    for (const [id, rollout] of Object.entries(settings.rollout)) {
      for (const version of [rollout.live, rollout.canary?.version, ...rollout.shadow]) {
        if (version && !plugins.has(`${id}@${version}`)) {
          this.logger.warn(
            { plugin: `${id}@${version}` },
            'the rollout names a plugin version that is not loaded',
          );
        }
      }
    }
    // One swap: routing sees the old set or the new one, never half of each.
    this.plugins = plugins;
    this.rejected = rejected;
    this.settings = settings;
  }

  /** Plugin folders: sub-folders of each configured folder with a plugin.json, then npm packages. */
  private async discover(settings: PluginsConfig, rejected: RejectedPlugin[]): Promise<string[]> {
    const found: string[] = [];
    for (const root of settings.dirs.map((d) => resolve(d))) {
      const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const dir = join(root, entry.name);
        if (await isFile(join(dir, 'plugin.json'))) found.push(dir);
      }
    }
    const from = [dirname(this.config.configPath), process.cwd()];
    for (const name of settings.packages) {
      try {
        found.push(dirname(require.resolve(`${name}/plugin.json`, { paths: from })));
      } catch {
        rejected.push({
          dir: name,
          problems: [`npm package ${name} is not installed or has no plugin.json at its root`],
        });
        this.logger.error({ package: name }, `plugin package ${name} rejected`);
      }
    }
    return [...new Set(found)].sort();
  }

  private async load(dir: string, plugins: Map<string, LoadedPlugin>): Promise<LoadedPlugin> {
    const folder = await readPluginFolder(dir);
    const named = (problems: string[]) =>
      Object.assign(new PluginRejection(problems), { plugin: folder.key });
    const twin = plugins.get(folder.key);
    if (twin) throw named([`${folder.key} is already loaded from ${twin.dir}; each version must be unique`]);
    let signature: ReturnType<typeof readOnnxSignature>;
    try {
      signature = readOnnxSignature(folder.modelBytes);
    } catch (error) {
      throw named([`model.file: ${folder.manifest.model.file} cannot be read: ${(error as Error).message}`]);
    }
    const problems = checkModelMetadata(folder.manifest, signature);
    if (problems.length > 0) throw named(problems);
    return {
      manifest: folder.manifest,
      dir,
      key: folder.key,
      triggers: folder.triggers,
      ...(folder.code ? { code: folder.code } : {}),
    };
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

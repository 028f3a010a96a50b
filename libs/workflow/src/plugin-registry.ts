import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import { satisfies } from 'semver';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { InferenceRuntime, TensorMetadata, ExecutionProvider } from '@aegle/inference';
import { manifestSchema, PluginManifest, SDK_VERSION } from '@aegle/plugin-sdk';

type Compiled = (resource: unknown) => unknown[];

/** A plugin that passed every check at load and whose model is ready to run. */
export interface LoadedPlugin {
  manifest: PluginManifest;
  dir: string;
  /** The inference runtime's key: `id@version`. */
  key: string;
  provider: ExecutionProvider;
  triggers: Array<{ resourceType: string; criteria?: Compiled }>;
}

export interface RejectedPlugin {
  dir: string;
  problems: string[];
}

/** A plugin folder that must not load, with every reason why. */
class PluginRejection extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/**
 * Discovers plugins in the configured folders, validates each (manifest schema, SDK range, model
 * sha256, the model's own tensor metadata against the manifest) and loads its model. A broken
 * plugin is rejected with a message naming it; the rest of Aegle starts anyway.
 */
@Injectable()
export class PluginRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PluginRegistry.name);
  private readonly plugins = new Map<string, LoadedPlugin>();
  private readonly rejected: RejectedPlugin[] = [];

  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    private readonly runtime: InferenceRuntime,
  ) {}

  async onModuleInit(): Promise<void> {
    for (const dir of await this.discover()) {
      try {
        const plugin = await this.load(dir);
        this.plugins.set(plugin.key, plugin);
        this.logger.log({ plugin: plugin.key, provider: plugin.provider }, 'plugin loaded');
      } catch (error) {
        const problems = error instanceof PluginRejection ? error.problems : [(error as Error).message];
        this.rejected.push({ dir, problems });
        this.logger.error({ dir, problems }, 'plugin rejected');
      }
    }
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.plugins.keys()].map((key) => this.runtime.unload(key)));
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

  /** Plugins whose triggers fire for this focus resource. */
  matching(resource: fhir4.Resource): LoadedPlugin[] {
    return this.all().filter((plugin) =>
      plugin.triggers.some(
        (t) => t.resourceType === resource.resourceType && (!t.criteria || isTrue(t.criteria(resource))),
      ),
    );
  }

  private async discover(): Promise<string[]> {
    const found: string[] = [];
    for (const root of this.config.plugins.dirs.map((d) => resolve(d))) {
      const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const dir = join(root, entry.name);
        const hasManifest = await readFile(join(dir, 'plugin.json')).then(
          () => true,
          () => false,
        );
        if (hasManifest) found.push(dir);
      }
    }
    return found.sort();
  }

  private async load(dir: string): Promise<LoadedPlugin> {
    const manifest = await readManifest(dir);
    const bytes = await readFile(join(dir, manifest.model.file)).catch(() => {
      throw new PluginRejection([`model file ${manifest.model.file} cannot be read`]);
    });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== manifest.model.sha256) {
      throw new PluginRejection([
        `model.sha256 is ${manifest.model.sha256} but ${manifest.model.file} hashes to ${sha256}`,
      ]);
    }
    const triggers = manifest.triggers.map((t, i) => ({
      resourceType: t.resourceType,
      criteria: compile(t.criteria, `triggers.${i}.criteria`),
    }));
    const key = `${manifest.id}@${manifest.version}`;
    const { execution, batching, concurrency } = manifest.model;
    const loaded = await this.runtime.load(key, bytes, { execution, batching, concurrency });
    const problems = [
      ...compareTensors('model.inputs', manifest.model.inputs, loaded.inputs),
      ...compareTensors('model.outputs', manifest.model.outputs, loaded.outputs),
      ...manifest.model.inputs.flatMap((t, i) => {
        const size = loaded.inputs.find((m) => m.name === t.name)?.shape.at(-1);
        return typeof size === 'number' && size !== t.features.length
          ? [`model.inputs.${i}.features lists ${t.features.length} features but the model takes ${size}`]
          : [];
      }),
    ];
    if (problems.length > 0) {
      await this.runtime.unload(key);
      throw new PluginRejection(problems);
    }
    return { manifest, dir, key, provider: loaded.provider, triggers };
  }
}

async function readManifest(dir: string): Promise<PluginManifest> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(dir, 'plugin.json'), 'utf8'));
  } catch (error) {
    throw new PluginRejection([`plugin.json is not valid JSON: ${(error as Error).message}`]);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new PluginRejection(
      parsed.error.issues.map((i) => `plugin.json ${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  if (!satisfies(SDK_VERSION, parsed.data.sdk)) {
    throw new PluginRejection([
      `plugin.json sdk: needs SDK ${parsed.data.sdk}, this Aegle provides ${SDK_VERSION}`,
    ]);
  }
  return parsed.data;
}

function compile(expression: string | undefined, where: string): Compiled | undefined {
  if (!expression) return undefined;
  try {
    return fhirpath.compile(expression, r4Model) as Compiled;
  } catch (error) {
    throw new PluginRejection([`${where}: invalid FHIRPath: ${(error as Error).message}`]);
  }
}

function isTrue(result: unknown[]): boolean {
  return result.length > 0 && result.every((v) => v === true);
}

/** Names, element types and fixed dimensions must agree with the model's own metadata. */
function compareTensors(
  where: string,
  declared: Array<{ name: string; type: string; shape: Array<number | string> }>,
  actual: TensorMetadata[],
): string[] {
  const problems: string[] = [];
  declared.forEach((tensor, i) => {
    const real = actual.find((a) => a.name === tensor.name);
    if (!real) {
      problems.push(
        `${where}.${i}: the model has no tensor "${tensor.name}" (it has ${actual.map((a) => a.name).join(', ')})`,
      );
      return;
    }
    if (real.type !== tensor.type)
      problems.push(`${where}.${i}: "${tensor.name}" is ${real.type} in the model, not ${tensor.type}`);
    const fixed = (d: number | string) => (typeof d === 'number' && d > 0 ? d : 'dynamic');
    if (
      real.shape.length !== tensor.shape.length ||
      real.shape.some((d, j) => fixed(d) !== fixed(tensor.shape[j]))
    ) {
      problems.push(
        `${where}.${i}: "${tensor.name}" has shape [${real.shape.join(', ')}] in the model, not [${tensor.shape.join(', ')}]`,
      );
    }
  });
  return problems;
}

import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { LoadedPlugin, PluginRegistry } from '@aegle/catalogue';
import { ExecutionProvider, InferenceRuntime } from '@aegle/inference';
import { consumedRunQueues, runQueueFor } from '@aegle/jobs';

/**
 * The ONNX sessions of this process: only for the plugins whose run queue it consumes. An api-only
 * process loads none, a CPU worker none of the GPU plugins' models; the catalogue (and so routing)
 * is the same in every process whatever this one can run. Sessions are opened at start for the
 * plugins known then, and on a plugin version's first run after a reload.
 */
@Injectable()
export class ModelHost implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ModelHost.name);
  private readonly queues: ReadonlySet<string>;
  private readonly sessions = new Map<string, Promise<ExecutionProvider>>();
  private readonly providers = new Map<string, ExecutionProvider>();

  constructor(
    @Inject(AEGLE_CONFIG) config: AegleConfig,
    private readonly catalogue: PluginRegistry,
    private readonly runtime: InferenceRuntime,
  ) {
    this.queues = new Set(config.role === 'api' ? [] : consumedRunQueues(config.workerExecution));
  }

  /**
   * Opens the sessions of the plugins this process runs, once the catalogue is loaded (every
   * module is initialised by now). A worker that starts meanwhile waits on the same opening.
   */
  async onApplicationBootstrap(): Promise<void> {
    await Promise.all(
      this.catalogue
        .all()
        .filter((plugin) => this.hosts(plugin))
        .map((plugin) => this.open(plugin).catch(() => undefined)),
    );
  }

  async onModuleDestroy(): Promise<void> {
    const keys = [...this.sessions.keys()];
    await Promise.all(keys.map((key) => this.runtime.unload(key)));
  }

  /** True when this process takes the plugin's runs (its execution need names a queue it consumes). */
  hosts(plugin: LoadedPlugin): boolean {
    return this.queues.has(runQueueFor(plugin.manifest.model.execution));
  }

  /** The execution provider the plugin's model runs on here; undefined where it is not loaded. */
  providerOf(key: string): ExecutionProvider | undefined {
    return this.providers.get(key);
  }

  /**
   * The plugin's session, opened once. A failure (no GPU for a `require-gpu` model, out of memory)
   * is not kept: the run that asked fails and is retried, here once the cause is gone or on
   * another worker.
   */
  open(plugin: LoadedPlugin): Promise<ExecutionProvider> {
    const open = this.sessions.get(plugin.key);
    if (open) return open;
    const opening = modelBytes(plugin)
      .then((bytes) =>
        this.runtime.load(plugin.key, bytes, {
          execution: plugin.manifest.model.execution,
          batching: plugin.manifest.model.batching,
          concurrency: plugin.manifest.model.concurrency,
        }),
      )
      .then((loaded) => {
        this.providers.set(plugin.key, loaded.provider);
        this.logger.log({ plugin: plugin.key, provider: loaded.provider }, 'model loaded');
        return loaded.provider;
      })
      .catch((error: Error) => {
        this.sessions.delete(plugin.key);
        const reason = error.message.split('\n')[0];
        this.logger.error({ plugin: plugin.key, reason }, 'model cannot be loaded on this machine');
        throw new Error(`the model of ${plugin.key} cannot be loaded on this machine: ${reason}`);
      });
    this.sessions.set(plugin.key, opening);
    return opening;
  }
}

/** The model file as the catalogue checked it: a file changed since then is refused. */
async function modelBytes(plugin: LoadedPlugin): Promise<Uint8Array> {
  const bytes = await readFile(join(plugin.dir, plugin.manifest.model.file));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== plugin.manifest.model.sha256) {
    throw new Error(`${plugin.manifest.model.file} changed since the plugin was loaded (sha256 ${sha256})`);
  }
  return bytes;
}

// The admin API's answers as their clients read them (the console, the CLI): one declaration each.
// Type-only and self-contained: the console is built apart and imports nothing else from the engine.

/** How a plugin version takes part in the rollout. */
export type RolloutState =
  { mode: 'live' } | { mode: 'canary'; percent: number } | { mode: 'shadow' } | { mode: 'idle' };

/** One loaded plugin version, as `GET /api/console/plugins` lists it. */
export interface PluginVersionView {
  id: string;
  version: string;
  kind: string;
  title: string;
  description: string | null;
  publisher: string | null;
  /** Where this process runs the model; null where it does not. */
  provider: string | null;
  execution: string | null;
  modelSha256: string;
  rollout: RolloutState;
  timeoutMs: number;
  maxConcurrency: number;
  inputs: Array<{ name: string; label: string | null; unit: string | null; required: boolean }>;
  /** The model card as markdown, when the manifest names a file in the plugin folder. */
  modelCard: string | null;
  /** The model card's address, when the manifest names a URL. */
  modelCardUrl: string | null;
}

export interface PluginsView {
  plugins: PluginVersionView[];
  rejected: Array<{ dir: string; plugin?: string; problems: string[] }>;
}

/** A write-back the EHR refused for good, as `GET /api/dead-letters` lists it. */
export interface DeadLetterRecord {
  id: string;
  runId: string;
  sourceId: string;
  pluginId: string;
  pluginVersion: string;
  status: 'open' | 'replaying' | 'resolved';
  httpStatus: number | null;
  reason: string;
  outcome: { issue?: Array<{ diagnostics?: string }> } | null;
  attempts: number;
  failedAt: string;
  replayCount: number;
  replayedAt: string | null;
  resolvedAt: string | null;
}

import { Injectable } from '@nestjs/common';
import { PluginRunRepository } from '@aegle/store';
import { SelectedRun } from '@aegle/catalogue';
import { JobQueues } from '@aegle/jobs';
import type { ExecutionNeed } from '@aegle/plugin-sdk/engine';

/**
 * Opens and queues plugin runs, for the router (an event's triggers) and for chained runs (a
 * plugin's result). A plugin version runs at most once per event (a unique index), which is also
 * what stops a chain of `after` triggers from looping.
 */
@Injectable()
export class RunStarter {
  constructor(
    private readonly runs: PluginRunRepository,
    private readonly jobs: JobQueues,
  ) {}

  async start(
    event: { id: string; sourceId: string },
    selected: SelectedRun[],
    triggeredBy?: string,
  ): Promise<void> {
    const toQueue: Array<{ runId: string; execution: ExecutionNeed }> = [];
    for (const { plugin, mode } of selected) {
      const run = await this.runs.openRun({
        eventId: event.id,
        sourceId: event.sourceId,
        pluginId: plugin.manifest.id,
        pluginVersion: plugin.manifest.version,
        modelSha256: plugin.manifest.model.sha256,
        mode,
        ...(triggeredBy ? { triggeredBy } : {}),
      });
      // Only a run still to do is queued: one already finished (a replay, or a chain that comes back
      // round to it) is left alone.
      if (run.pending) toQueue.push({ runId: run.id, execution: plugin.manifest.model.execution });
    }
    // The event's runs in one round trip per queue; GPU plugins' runs wait on their own queue, for
    // the workers of GPU machines. One opened but not queued (a crash in between) is still pending:
    // the work reconciler queues it.
    await this.jobs.run(toQueue);
  }
}

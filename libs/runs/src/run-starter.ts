import { Injectable } from '@nestjs/common';
import { OpenedRun, PluginRunRepository, RunIdentity } from '@aegle/store';
import { SelectedRun } from '@aegle/catalogue';
import { JobQueues } from '@aegle/jobs';

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

  /**
   * Opens the event's runs and records it as routed with `reason`, in one statement, then queues
   * the runs still to do. Queued after the event is routed: one opened but not queued (a crash in
   * between) is pending on a routed event, which the work reconciler queues.
   */
  async route(
    event: { id: string; sourceId: string },
    selected: SelectedRun[],
    reason: string | null = null,
  ): Promise<void> {
    const opened = await this.runs.openAndRoute(event.id, identities(event, selected), reason);
    await this.queue(selected, opened);
  }

  /** Opens and queues runs chained from run `triggeredBy`'s result; the event's status stays. */
  async start(
    event: { id: string; sourceId: string },
    selected: SelectedRun[],
    triggeredBy?: string,
  ): Promise<void> {
    if (selected.length === 0) return;
    const opened = await this.runs.openAll(identities(event, selected, triggeredBy));
    await this.queue(selected, opened);
  }

  /**
   * Only a run still to do is queued: one already finished (a replay, or a chain that comes back
   * round to it) is left alone. The runs in one round trip per queue; GPU plugins' runs wait on
   * their own queue, for the workers of GPU machines.
   */
  private queue(selected: SelectedRun[], opened: OpenedRun[]): Promise<void> {
    return this.jobs.run(
      opened.flatMap((run, i) =>
        run.pending ? [{ runId: run.id, execution: selected[i].plugin.manifest.model.execution }] : [],
      ),
    );
  }
}

function identities(
  event: { id: string; sourceId: string },
  selected: SelectedRun[],
  triggeredBy?: string,
): RunIdentity[] {
  return selected.map(({ plugin, mode }) => ({
    eventId: event.id,
    sourceId: event.sourceId,
    pluginId: plugin.manifest.id,
    pluginVersion: plugin.manifest.version,
    modelSha256: plugin.manifest.model.sha256,
    mode,
    ...(triggeredBy ? { triggeredBy } : {}),
  }));
}

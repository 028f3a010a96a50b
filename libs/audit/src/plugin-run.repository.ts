import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PluginRunEntity, RunMode, RunOutcome } from './entities';

export interface RunIdentity {
  eventId: string;
  sourceId: string;
  pluginId: string;
  pluginVersion: string;
  modelSha256: string;
  mode?: RunMode;
  triggeredBy?: string;
}

export interface RunCompletion {
  outcome: Exclude<RunOutcome, 'pending'>;
  reason?: string;
  patientRef?: string;
  inputs?: object;
  outputs?: object;
  executionProvider?: string;
  latencyMs?: number;
}

@Injectable()
export class PluginRunRepository {
  constructor(private readonly db: DataSource) {}

  /** The run of this plugin version on this event, created once however often routing repeats. */
  async open(identity: RunIdentity): Promise<string> {
    const repo = this.db.getRepository(PluginRunEntity);
    await repo.createQueryBuilder().insert().values(identity).orIgnore().execute();
    const run = await repo.findOneByOrFail({
      eventId: identity.eventId,
      pluginId: identity.pluginId,
      pluginVersion: identity.pluginVersion,
    });
    return run.id;
  }

  get(id: string): Promise<PluginRunEntity | null> {
    return this.db.getRepository(PluginRunEntity).findOneBy({ id });
  }

  async complete(id: string, completion: RunCompletion): Promise<void> {
    await this.db.getRepository(PluginRunEntity).update(
      { id },
      {
        outcome: completion.outcome,
        reason: completion.reason ?? null,
        patientRef: completion.patientRef ?? null,
        inputs: completion.inputs ?? null,
        outputs: completion.outputs ?? null,
        executionProvider: completion.executionProvider ?? null,
        latencyMs: completion.latencyMs ?? null,
        finishedAt: () => 'now()',
      },
    );
  }

  /** Runs of one source for one patient, newest first (repository methods take their scope). */
  findForPatient(sourceId: string, patientRef: string): Promise<PluginRunEntity[]> {
    return this.db
      .getRepository(PluginRunEntity)
      .find({ where: { sourceId, patientRef }, order: { createdAt: 'DESC' } });
  }
}

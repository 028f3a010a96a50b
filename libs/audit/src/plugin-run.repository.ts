import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { AuditChain, chained, ChainedRow, returningChained } from './chain';
import { PluginRunEntity, RunOutcome } from './entities';
import { protectInputs } from './input-policy';

export interface RunIdentity {
  eventId: string;
  sourceId: string;
  pluginId: string;
  pluginVersion: string;
  modelSha256: string;
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
  constructor(
    private readonly db: DataSource,
    private readonly chain: AuditChain,
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
  ) {}

  /** The run of this plugin version on this event, created once however often routing repeats. */
  open(identity: RunIdentity): Promise<string> {
    return this.chain.write(async (tx) => {
      const inserted = await tx
        .createQueryBuilder()
        .insert()
        .into(PluginRunEntity)
        .values(identity)
        .orIgnore()
        .returning(returningChained('plugin_run'))
        .updateEntity(false)
        .execute();
      const rows = inserted.raw as ChainedRow[];
      if (rows.length > 0) return { result: rows[0].id, records: chained('plugin_run', 'opened', rows) };
      const existing = await tx.getRepository(PluginRunEntity).findOneOrFail({
        select: { id: true },
        where: {
          eventId: identity.eventId,
          pluginId: identity.pluginId,
          pluginVersion: identity.pluginVersion,
        },
      });
      return { result: existing.id, records: [] };
    });
  }

  get(id: string): Promise<PluginRunEntity | null> {
    return this.db.getRepository(PluginRunEntity).findOneBy({ id });
  }

  /** Records the run's outcome; the inputs are stored as the PHI policy (`audit.storeInputs`) says. */
  async complete(id: string, completion: RunCompletion): Promise<void> {
    await this.chain.write(async (tx) => {
      const updated = await tx
        .createQueryBuilder()
        .update(PluginRunEntity)
        .set({
          outcome: completion.outcome,
          reason: completion.reason ?? null,
          patientRef: completion.patientRef ?? null,
          inputs: protectInputs(completion.inputs, this.config.audit) ?? null,
          outputs: completion.outputs ?? null,
          executionProvider: completion.executionProvider ?? null,
          latencyMs: completion.latencyMs ?? null,
          finishedAt: () => 'now()',
        })
        .where('id = :id', { id })
        .returning(returningChained('plugin_run'))
        .updateEntity(false)
        .execute();
      return {
        result: undefined,
        records: chained('plugin_run', completion.outcome, updated.raw as ChainedRow[]),
      };
    });
  }

  /** Runs of one source for one patient, newest first (repository methods take their scope). */
  findForPatient(sourceId: string, patientRef: string): Promise<PluginRunEntity[]> {
    return this.db
      .getRepository(PluginRunEntity)
      .find({ where: { sourceId, patientRef }, order: { createdAt: 'DESC' } });
  }
}

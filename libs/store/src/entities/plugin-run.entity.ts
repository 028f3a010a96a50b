import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type RunOutcome = 'pending' | 'succeeded' | 'skipped' | 'failed';
/** `live` and `canary` results are written to the EHR; `shadow` results are only audited. */
export type RunMode = 'live' | 'canary' | 'shadow';

/** One plugin's run on one event: the exact inputs, the model, the outputs and what came of it. */
@Entity('plugin_run')
@Index(['eventId', 'pluginId', 'pluginVersion'], { unique: true })
export class PluginRunEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'event_id', type: 'uuid' }) eventId!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ name: 'plugin_id', type: 'text' }) pluginId!: string;
  @Column({ name: 'plugin_version', type: 'text' }) pluginVersion!: string;
  @Column({ name: 'model_sha256', type: 'text' }) modelSha256!: string;
  @Column({ name: 'execution_provider', type: 'text', nullable: true }) executionProvider!: string | null;
  @Index()
  @Column({ name: 'patient_ref', type: 'text', nullable: true })
  patientRef!: string | null;
  @Column({ type: 'jsonb', nullable: true }) inputs!: object | null;
  @Column({ type: 'jsonb', nullable: true }) outputs!: object | null;
  @Column({ name: 'latency_ms', type: 'double precision', nullable: true }) latencyMs!: number | null;
  @Column({ type: 'text', default: 'pending' }) outcome!: RunOutcome;
  @Column({ type: 'text', default: 'live' }) mode!: RunMode;
  /** The upstream run whose result started this one (an `after` trigger). */
  @Column({ name: 'triggered_by', type: 'uuid', nullable: true }) triggeredBy!: string | null;
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
}

import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type DeadLetterStatus = 'open' | 'replaying' | 'resolved';

/** A run whose results the EHR refused, or that ran out of retries: kept until replayed. */
@Entity('dead_letter')
export class DeadLetterEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index({ unique: true })
  @Column({ name: 'run_id', type: 'uuid' })
  runId!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ name: 'plugin_id', type: 'text' }) pluginId!: string;
  @Column({ name: 'plugin_version', type: 'text' }) pluginVersion!: string;
  @Column({ type: 'text', default: 'open' }) status!: DeadLetterStatus;
  @Column({ name: 'http_status', type: 'integer', nullable: true }) httpStatus!: number | null;
  @Column({ type: 'text' }) reason!: string;
  /** The EHR's OperationOutcome, as it answered. */
  @Column({ type: 'jsonb', nullable: true }) outcome!: object | null;
  @Column({ type: 'integer' }) attempts!: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'failed_at', type: 'timestamptz' }) failedAt!: Date;
  @Column({ name: 'replay_count', type: 'integer', default: 0 }) replayCount!: number;
  @Column({ name: 'replayed_at', type: 'timestamptz', nullable: true }) replayedAt!: Date | null;
  @Column({ name: 'resolved_at', type: 'timestamptz', nullable: true }) resolvedAt!: Date | null;
}

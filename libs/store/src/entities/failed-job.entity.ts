import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A queue job (routing or a plugin run) that exhausted its retries or was refused for good, and whether (and by whom) it was replayed. */
@Entity('failed_job')
export class FailedJobEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text' }) queue!: string;
  @Column({ name: 'job_id', type: 'text' }) jobId!: string;
  @Column({ name: 'job_name', type: 'text' }) jobName!: string;
  /** The job's payload: ids only, never resources. */
  @Column({ type: 'jsonb' }) payload!: object;
  @Column({ name: 'source_id', type: 'text', nullable: true }) sourceId!: string | null;
  @Column({ type: 'integer' }) attempts!: number;
  @Column({ type: 'text' }) reason!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'replayed_at', type: 'timestamptz', nullable: true }) replayedAt!: Date | null;
  @Column({ name: 'replayed_by', type: 'text', nullable: true }) replayedBy!: string | null;
  @Column({ name: 'replay_job_id', type: 'text', nullable: true }) replayJobId!: string | null;
}

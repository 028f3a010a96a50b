import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type WriteBackOutcome = 'created' | 'exists' | 'superseded' | 'retrying' | 'dead';

/** One attempt to write one resource to the EHR. */
@Entity('write_back')
export class WriteBackEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'run_id', type: 'uuid' }) runId!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ name: 'resource_type', type: 'text' }) resourceType!: string;
  @Column({ name: 'resource_id', type: 'text', nullable: true }) resourceId!: string | null;
  @Column({ type: 'text' }) identifier!: string;
  @Column({ type: 'integer' }) attempt!: number;
  @Column({ name: 'http_status', type: 'integer', nullable: true }) httpStatus!: number | null;
  @Column({ type: 'text' }) outcome!: WriteBackOutcome;
  @Column({ type: 'jsonb', nullable: true }) response!: object | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One HTTP notification as received from an EHR, before or after it was understood. */
@Entity('notification')
export class NotificationEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @CreateDateColumn({ name: 'received_at', type: 'timestamptz' }) receivedAt!: Date;
  @Column({ type: 'text', nullable: true }) shape!: string | null;
  @Column({ name: 'content_type', type: 'text', nullable: true }) contentType!: string | null;
  @Column({ name: 'body_sha256', type: 'text' }) bodySha256!: string;
  @Column({ name: 'body_bytes', type: 'integer' }) bodyBytes!: number;
  /** Only headers that matter for tracing and verification; never Authorization. */
  @Column({ type: 'jsonb', default: {} }) headers!: Record<string, string>;
  @Column({ name: 'http_status', type: 'integer' }) httpStatus!: number;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @Column({ name: 'event_count', type: 'integer', default: 0 }) eventCount!: number;
}

import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** `stale`: a newer version of the same resource was claimed or routed first, so this one is skipped. */
export type EventStatus = 'accepted' | 'routed' | 'failed' | 'stale';

/** A normalised event: one thing that happened to one EHR resource. Also the intake's outbox. */
@Entity('event')
export class EventEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'notification_id', type: 'uuid' }) notificationId!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ type: 'text', nullable: true }) subscription!: string | null;
  @Column({ type: 'text', nullable: true }) topic!: string | null;
  @Column({ name: 'event_number', type: 'bigint', nullable: true }) eventNumber!: string | null;
  @Column({ type: 'text' }) interaction!: string;
  @Column({ name: 'focus_type', type: 'text' }) focusType!: string;
  @Column({ name: 'focus_id', type: 'text' }) focusId!: string;
  @Column({ name: 'focus_version', type: 'text', nullable: true }) focusVersion!: string | null;
  /** The resource when the notification carried it, so routing needs no extra EHR read. */
  @Column({ type: 'jsonb', nullable: true }) resource!: fhir4.Resource | null;
  @Index({ unique: true })
  @Column({ name: 'dedup_key', type: 'text' })
  dedupKey!: string;
  /** (resource, version): the same change announced twice (by number and by search) is kept once. */
  @Column({ name: 'version_key', type: 'text', nullable: true }) versionKey!: string | null;
  /** When the EHR says the event happened, as it wrote it. */
  @Column({ name: 'event_timestamp', type: 'text', nullable: true }) eventTimestamp!: string | null;
  @Column({ type: 'text', default: 'accepted' }) status!: EventStatus;
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  /** Null until the event is on the queue; the outbox relay enqueues those left null. */
  @Column({ name: 'enqueued_at', type: 'timestamptz', nullable: true }) enqueuedAt!: Date | null;
  /** When the router last took the event (see EventClaims); operational, like `enqueuedAt`. */
  @Column({ name: 'claimed_at', type: 'timestamptz', nullable: true }) claimedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

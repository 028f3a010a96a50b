import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * What the intake knows about one subscription on one EHR: the event numbers it has seen, when it
 * last heard from it, and the newest change it has seen (where a `_lastUpdated` catch-up starts).
 * Classic rest-hook sources without a subscription id are tracked under `*`.
 */
@Entity('subscription_state')
export class SubscriptionStateEntity {
  @PrimaryColumn({ name: 'source_id', type: 'text' }) sourceId!: string;
  @PrimaryColumn({ type: 'text' }) subscription!: string;
  @Column({ type: 'text', nullable: true }) topic!: string | null;
  @Column({ type: 'text', nullable: true }) status!: string | null;
  /**
   * Every event up to this number is accounted for: it arrived, a catch-up covers it, or it came
   * before Aegle listened (a handshake says 0). Gap checks start after it and move it forward.
   */
  @Column({ name: 'contiguous_through', type: 'bigint', nullable: true }) contiguousThrough!: string | null;
  @Column({ name: 'highest_event_number', type: 'bigint', nullable: true }) highestEventNumber!:
    string | null;
  @Column({ name: 'events_since_start', type: 'bigint', nullable: true }) eventsSinceStart!: string | null;
  @Column({ name: 'last_notification_at', type: 'timestamptz', nullable: true })
  lastNotificationAt!: Date | null;
  @Column({ name: 'last_heartbeat_at', type: 'timestamptz', nullable: true }) lastHeartbeatAt!: Date | null;
  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true }) lastSeenAt!: Date | null;
  @Column({ name: 'heartbeat_overdue_since', type: 'timestamptz', nullable: true })
  heartbeatOverdueSince!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

export type CatchUpStatus = 'pending' | 'done' | 'failed';

/** One gap (or ping, or overdue heartbeat) the intake found, and how it was closed. */
@Entity('catch_up')
export class CatchUpEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'source_id', type: 'text' }) sourceId!: string;
  @Column({ type: 'text' }) subscription!: string;
  /** `gap`, `heartbeat-ahead`, `empty-content`, `ping` or `heartbeat-overdue`. */
  @Column({ type: 'text' }) reason!: string;
  @Column({ name: 'from_event', type: 'bigint', nullable: true }) fromEvent!: string | null;
  @Column({ name: 'to_event', type: 'bigint', nullable: true }) toEvent!: string | null;
  @Column({ type: 'timestamptz', nullable: true }) since!: Date | null;
  @Column({ type: 'text', default: 'pending' }) status!: CatchUpStatus;
  /** `$events` or `search`. */
  @Column({ type: 'text', nullable: true }) method!: string | null;
  @Column({ type: 'integer', default: 0 }) recovered!: number;
  @Column({ type: 'integer', default: 0 }) attempts!: number;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
}

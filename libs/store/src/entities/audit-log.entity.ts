import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One link of the hash chain: a record's content hash, tied to every entry before it. */
@Entity('audit_log')
export class AuditLogEntity {
  @PrimaryColumn({ type: 'bigint' }) seq!: string;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ name: 'record_type', type: 'text' }) recordType!: string;
  @Column({ name: 'record_id', type: 'text' }) recordId!: string;
  @Column({ type: 'text' }) action!: string;
  @Column({ name: 'content_sha256', type: 'text' }) contentSha256!: string;
  @Column({ name: 'prev_hash', type: 'text' }) prevHash!: string;
  @Column({ name: 'entry_hash', type: 'text' }) entryHash!: string;
}

/** The chain head as it was just before a retention prune: verification starts from here. */
@Entity('audit_checkpoint')
export class AuditCheckpointEntity {
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' }) id!: string;
  @Column({ type: 'bigint' }) seq!: string;
  @Column({ name: 'entry_hash', type: 'text' }) entryHash!: string;
  @Column({ type: 'timestamptz' }) cutoff!: Date;
  @Column({ type: 'jsonb' }) pruned!: Record<string, number>;
  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' }) createdAt!: Date;
}

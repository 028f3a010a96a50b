import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Something an operator did through the admin API or CLI, e.g. replaying a dead letter. */
@Entity('admin_action')
export class AdminActionEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text' }) action!: string;
  /** Who asked, as far as Aegle knows (the admin token is shared, so this is the client's label). */
  @Column({ type: 'text' }) actor!: string;
  @Column({ type: 'text', nullable: true }) target!: string | null;
  @Column({ type: 'jsonb', default: {} }) details!: object;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

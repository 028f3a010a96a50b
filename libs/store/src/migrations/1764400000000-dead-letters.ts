import { MigrationInterface, QueryRunner } from 'typeorm';

/** Dead letters of write-back (one per run) and the admin actions taken on them. */
export class DeadLetters1764400000000 implements MigrationInterface {
  name = 'DeadLetters1764400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE dead_letter (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        run_id uuid NOT NULL REFERENCES plugin_run (id),
        source_id text NOT NULL,
        plugin_id text NOT NULL,
        plugin_version text NOT NULL,
        status text NOT NULL DEFAULT 'open',
        http_status integer,
        reason text NOT NULL,
        outcome jsonb,
        attempts integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        failed_at timestamptz NOT NULL DEFAULT now(),
        replay_count integer NOT NULL DEFAULT 0,
        replayed_at timestamptz,
        resolved_at timestamptz
      )`);
    await db.query(`CREATE UNIQUE INDEX dead_letter_run ON dead_letter (run_id)`);
    await db.query(`CREATE INDEX dead_letter_status ON dead_letter (status, source_id, failed_at)`);
    await db.query(`
      CREATE TABLE admin_action (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        actor text NOT NULL,
        action text NOT NULL,
        target text,
        detail jsonb NOT NULL DEFAULT '{}',
        http_status integer,
        remote_address text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX admin_action_created ON admin_action (created_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE admin_action`);
    await db.query(`DROP TABLE dead_letter`);
  }
}

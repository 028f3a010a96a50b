import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the intake needs to lose nothing and process nothing twice: a (resource, version) key on
 * events beside the (subscription, event number) one, each subscription's running state (event
 * numbers, heartbeats, last seen time) and the catch-ups that close the gaps it finds.
 */
export class IntakeSubscriptions1764400000002 implements MigrationInterface {
  name = 'IntakeSubscriptions1764400000002';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE event ADD COLUMN version_key text`);
    await db.query(`ALTER TABLE event ADD COLUMN event_timestamp text`);
    await db.query(
      `CREATE UNIQUE INDEX event_version_key ON event (version_key) WHERE version_key IS NOT NULL`,
    );
    await db.query(
      `CREATE INDEX event_subscription_number ON event (source_id, subscription, event_number)
       WHERE event_number IS NOT NULL`,
    );
    await db.query(`
      CREATE TABLE subscription_state (
        source_id text NOT NULL,
        subscription text NOT NULL,
        topic text,
        status text,
        contiguous_through bigint,
        highest_event_number bigint,
        events_since_start bigint,
        last_notification_at timestamptz,
        last_heartbeat_at timestamptz,
        last_seen_at timestamptz,
        heartbeat_overdue_since timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source_id, subscription)
      )`);
    await db.query(`
      CREATE TABLE catch_up (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        source_id text NOT NULL,
        subscription text NOT NULL,
        reason text NOT NULL,
        from_event bigint,
        to_event bigint,
        since timestamptz,
        status text NOT NULL DEFAULT 'pending',
        method text,
        recovered integer NOT NULL DEFAULT 0,
        attempts integer NOT NULL DEFAULT 0,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await db.query(`CREATE INDEX catch_up_pending ON catch_up (created_at) WHERE status = 'pending'`);
    await db.query(`CREATE INDEX catch_up_subscription ON catch_up (source_id, subscription, created_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE catch_up`);
    await db.query(`DROP TABLE subscription_state`);
    await db.query(`DROP INDEX event_subscription_number`);
    await db.query(`DROP INDEX event_version_key`);
    await db.query(`ALTER TABLE event DROP COLUMN event_timestamp`);
    await db.query(`ALTER TABLE event DROP COLUMN version_key`);
  }
}

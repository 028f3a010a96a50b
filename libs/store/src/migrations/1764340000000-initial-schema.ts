import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764340000000 implements MigrationInterface {
  name = 'InitialSchema1764340000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE notification (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        source_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        shape text,
        content_type text,
        body_sha256 text NOT NULL,
        body_bytes integer NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}',
        http_status integer NOT NULL,
        error text,
        event_count integer NOT NULL DEFAULT 0
      )`);
    await db.query(`CREATE INDEX notification_source_received ON notification (source_id, received_at)`);
    await db.query(`
      CREATE TABLE event (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        notification_id uuid NOT NULL REFERENCES notification (id),
        source_id text NOT NULL,
        subscription text,
        topic text,
        event_number bigint,
        interaction text NOT NULL,
        focus_type text NOT NULL,
        focus_id text NOT NULL,
        focus_version text,
        resource jsonb,
        dedup_key text NOT NULL,
        status text NOT NULL DEFAULT 'accepted',
        reason text,
        enqueued_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE UNIQUE INDEX event_dedup_key ON event (dedup_key)`);
    await db.query(`CREATE INDEX event_focus ON event (source_id, focus_type, focus_id)`);
    await db.query(`CREATE INDEX event_outbox ON event (created_at) WHERE enqueued_at IS NULL`);
    await db.query(`
      CREATE TABLE plugin_run (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        event_id uuid NOT NULL REFERENCES event (id),
        source_id text NOT NULL,
        plugin_id text NOT NULL,
        plugin_version text NOT NULL,
        model_sha256 text NOT NULL,
        execution_provider text,
        patient_ref text,
        inputs jsonb,
        outputs jsonb,
        latency_ms double precision,
        outcome text NOT NULL DEFAULT 'pending',
        reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await db.query(`CREATE UNIQUE INDEX plugin_run_once ON plugin_run (event_id, plugin_id, plugin_version)`);
    await db.query(`CREATE INDEX plugin_run_patient ON plugin_run (patient_ref)`);
    await db.query(`
      CREATE TABLE write_back (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        run_id uuid NOT NULL REFERENCES plugin_run (id),
        source_id text NOT NULL,
        resource_type text NOT NULL,
        resource_id text,
        identifier text NOT NULL,
        attempt integer NOT NULL,
        http_status integer,
        outcome text NOT NULL,
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX write_back_run ON write_back (run_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE write_back`);
    await db.query(`DROP TABLE plugin_run`);
    await db.query(`DROP TABLE event`);
    await db.query(`DROP TABLE notification`);
  }
}

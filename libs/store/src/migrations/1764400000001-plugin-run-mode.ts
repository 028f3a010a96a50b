import { MigrationInterface, QueryRunner } from 'typeorm';

/** Plugin rollout: a run's mode (live, canary, shadow) and, for a chained run, the run it followed. */
export class PluginRunMode1764400000001 implements MigrationInterface {
  name = 'PluginRunMode1764400000001';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE plugin_run ADD COLUMN mode text NOT NULL DEFAULT 'live'`);
    await db.query(`ALTER TABLE plugin_run ADD COLUMN triggered_by uuid REFERENCES plugin_run (id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE plugin_run DROP COLUMN triggered_by`);
    await db.query(`ALTER TABLE plugin_run DROP COLUMN mode`);
  }
}

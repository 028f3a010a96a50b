import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-resource ordering: when the router took an event (its claim, operational state outside the
 * audited content), and a quick way from a run or event to the failed job that gave up on it.
 */
export class EventClaims1764600000000 implements MigrationInterface {
  name = 'EventClaims1764600000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE event ADD COLUMN claimed_at timestamptz`);
    await db.query(
      `CREATE INDEX failed_job_open_target ON failed_job ((coalesce(payload->>'eventId', payload->>'runId')))
       WHERE replayed_at IS NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX failed_job_open_target`);
    await db.query(`ALTER TABLE event DROP COLUMN claimed_at`);
  }
}

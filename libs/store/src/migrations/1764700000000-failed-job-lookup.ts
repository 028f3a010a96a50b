import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Failed jobs found by their queue job: the sweep of BullMQ's failed sets asks which of them are
 * recorded already, and a failure is recorded once however many paths see it.
 */
export class FailedJobLookup1764700000000 implements MigrationInterface {
  name = 'FailedJobLookup1764700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX failed_job_queue_job ON failed_job (queue, job_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX failed_job_queue_job`);
  }
}

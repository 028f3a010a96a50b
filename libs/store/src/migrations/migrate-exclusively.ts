import { DataSource } from 'typeorm';

/** The advisory lock every Aegle process takes around migrations (any fixed number; "Aegl"). */
const MIGRATION_LOCK = 0x4165676c;

/**
 * Runs the pending migrations while holding a PostgreSQL advisory lock, so processes that start
 * together on a new database (an api beside its workers, several replicas) take turns: the first
 * migrates, the others find nothing left to do, and none fails on another's half-built schema.
 */
export async function migrateExclusively(db: DataSource): Promise<void> {
  const lock = db.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await db.runMigrations({ transaction: 'all' });
  } finally {
    // Closing the session would release it too; unlock first so the connection returns clean.
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.release();
  }
}

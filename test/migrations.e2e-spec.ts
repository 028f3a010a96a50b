import { DataSource } from 'typeorm';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, migrateExclusively } from '@aegle/store';
import { createTestDatabase, TestDatabase } from './support/aegle-app';

/**
 * Processes that start together on a new database (docker compose's api and workers, several
 * replicas) each migrate at boot: they must take turns, not fail on each other's half-built schema.
 */
describe('migrations at boot, several processes at once', () => {
  let database: TestDatabase;
  const sources: DataSource[] = [];

  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
  });

  afterAll(async () => {
    await Promise.all(sources.map((db) => db.destroy()));
    await database?.drop();
  });

  it('applies every migration exactly once when four processes migrate a new database together', async () => {
    for (let i = 0; i < 4; i++) {
      sources.push(
        await new DataSource({
          type: 'postgres',
          url: database.url,
          entities: AUDIT_ENTITIES,
          migrations: AUDIT_MIGRATIONS,
          synchronize: false,
        }).initialize(),
      );
    }
    await Promise.all(sources.map((db) => migrateExclusively(db)));

    const applied = await sources[0].query<Array<{ name: string }>>(
      `SELECT name FROM migrations ORDER BY id`,
    );
    expect(applied.map((m) => m.name)).toEqual(AUDIT_MIGRATIONS.map((m) => m.name));
    // The schema is whole: the audit chain's head row exists once.
    expect(await sources[0].query(`SELECT count(*)::int AS n FROM audit_chain_head`)).toEqual([{ n: 1 }]);
  });
});

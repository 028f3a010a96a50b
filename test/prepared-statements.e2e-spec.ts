import { DataSource } from 'typeorm';
import { PreparedStatement } from '@aegle/store';
import { createTestDatabase, TestDatabase } from './support/aegle-app';

/** Statements run together: one round trip, one transaction, each statement prepared once per connection. */
describe('prepared statements run together', () => {
  let database: TestDatabase;
  let db: DataSource;

  const write = new PreparedStatement('probe_write', `INSERT INTO probe (n) SELECT unnest($1::int[])`);
  const count = new PreparedStatement<{ n: number }>(
    'probe_count',
    `SELECT count(*)::int AS n FROM probe WHERE n = ANY($1::int[])`,
  );
  const fail = new PreparedStatement('probe_fail', `SELECT 1 / (n - n) FROM unnest($1::int[]) n`);

  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
    // One connection, so every call after the first finds its statements prepared.
    db = new DataSource({ type: 'postgres', url: database.url, extra: { max: 1 } });
    await db.initialize();
    await db.query(`CREATE TABLE probe (n int NOT NULL)`);
  });

  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('answers the last statement, which reads what the earlier ones wrote', async () => {
    expect(await PreparedStatement.runTogether(db, [write, count], [[1]])).toEqual([{ n: 1 }]);
    expect(await PreparedStatement.runTogether(db, [write, count], [[1]])).toEqual([{ n: 2 }]);
  });

  it('commits none of them when one fails, and the next call goes on', async () => {
    await expect(PreparedStatement.runTogether(db, [write, fail], [[2]])).rejects.toThrow(/division by zero/);
    expect(await count.run(db, [[2]])).toEqual([{ n: 0 }]);
    expect(await PreparedStatement.runTogether(db, [write, count], [[2]])).toEqual([{ n: 1 }]);
  });

  it('runs them in the caller’s transaction, which commits them', async () => {
    await db.transaction((tx) => PreparedStatement.runTogether(tx, [write, write], [[3]]));
    expect(await count.run(db, [[3]])).toEqual([{ n: 2 }]);
  });
});

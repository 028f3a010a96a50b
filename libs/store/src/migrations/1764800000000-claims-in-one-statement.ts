import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `locked_claim(ids, lock, claim)`: runs the statement `lock` (taking transaction-scoped advisory
 * locks), then the statement `claim`, both with `ids` as $1, and returns the claim's rows (jsonb).
 * Being VOLATILE, the function reads with a snapshot taken after the locks were granted, which is
 * what lets the router's claim be one round trip (EventClaims keeps both statements' definitions).
 */
export class ClaimsInOneStatement1764800000000 implements MigrationInterface {
  name = 'ClaimsInOneStatement1764800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION locked_claim(ids uuid[], lock text, claim text) RETURNS SETOF jsonb
      LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        EXECUTE lock USING ids;
        RETURN QUERY EXECUTE claim USING ids;
      END $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION locked_claim(uuid[], text, text)`);
  }
}

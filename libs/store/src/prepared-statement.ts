import { Connection, Pool, PoolClient, Query, QueryResult } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { databaseStatementsTotal } from '@aegle/telemetry';

/**
 * A hot statement that PostgreSQL parses once per pooled connection (and may keep planned), not on
 * every call. TypeORM sends each query unnamed, so each is parsed and planned anew: for the intake's
 * batch write that was about 0.8 ms of PostgreSQL CPU of the 1.3 ms a one-notification commit cost;
 * across a run's hot statements, parsing and planning were about a third of PostgreSQL's time. Named,
 * the pg driver prepares it on each connection's first use and then sends only the values.
 *
 * For a fixed text only: the name stands for the text on every connection, so each statement has a
 * name of its own. Rows come back as the driver parses them, as TypeORM's `query` answers a SELECT.
 */
export class PreparedStatement<Row> {
  constructor(
    readonly name: string,
    readonly text: string,
  ) {}

  /** Runs on the pool, or in the transaction `db` is the manager of. */
  async run(db: DataSource | EntityManager, values: unknown[]): Promise<Row[]> {
    databaseStatementsTotal.inc(); // past TypeORM, so past its logger's count
    const client = transactionClient(db);
    const query = { name: this.name, text: this.text, values };
    const result = await (client ? (await client).query(query) : pool(db).query(query));
    return result.rows as Row[];
  }

  /**
   * Runs the statements one after the other, each with the same `values`, in one round trip and one
   * (implicit) transaction, and answers the last one's rows. Each statement still reads with a
   * snapshot of its own, taken when it starts (READ COMMITTED): what a later one reads includes what
   * committed while an earlier one waited on a lock. If one fails, none of them commits. In the
   * transaction `db` is the manager of, they run in it, one round trip each.
   */
  static async runTogether<Row>(
    db: DataSource | EntityManager,
    statements: ReadonlyArray<PreparedStatement<unknown>>,
    values: unknown[],
  ): Promise<Row[]> {
    if (transactionClient(db)) {
      let rows: unknown[] = [];
      for (const statement of statements) rows = await statement.run(db, values);
      return rows as Row[];
    }
    databaseStatementsTotal.inc();
    const client = await pool(db).connect();
    let failed: Error | undefined;
    try {
      const results = await new Promise<QueryResult | QueryResult[]>((resolve, reject) =>
        client.query(
          new Together(statements, values, (error, answer) => (error ? reject(error) : resolve(answer))),
        ),
      );
      const last = Array.isArray(results) ? results[results.length - 1] : results;
      return last.rows as Row[];
    } catch (error) {
      failed = error as Error;
      throw error;
    } finally {
      client.release(failed); // as the pool's own query does: after a failure, a fresh connection
    }
  }
}

function pool(db: DataSource | EntityManager): Pool {
  const source = db instanceof DataSource ? db : db.connection;
  return (source.driver as PostgresDriver).master as Pool;
}

/** The connection of the transaction `db` is the manager of, if it is one. */
function transactionClient(db: DataSource | EntityManager): Promise<PoolClient> | undefined {
  const runner = db instanceof DataSource ? undefined : db.queryRunner;
  return runner && !runner.isReleased ? (runner.connect() as Promise<PoolClient>) : undefined;
}

/** What the pg driver keeps per connection and does with values, that its typings leave out. */
interface DriverConnection extends Connection {
  parsedStatements: Record<string, string>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): unknown };
const BaseQuery = Query as unknown as new (
  config: object,
  callback: (error: Error | undefined, result: QueryResult | QueryResult[]) => void,
) => Query & { handleError(error: Error, connection: Connection): void };

/**
 * The driver's extended-protocol exchange for several prepared statements before one Sync (what its
 * own Query does for one): the server runs them as one implicit transaction, in order, and answers
 * all of them at once. The driver's Query gathers their results, one per statement.
 */
class Together extends BaseQuery {
  /** Statements this exchange parses: should it fail, whether the server kept them is unknown. */
  private readonly parsing: string[] = [];

  constructor(
    private readonly statements: ReadonlyArray<PreparedStatement<unknown>>,
    private readonly values: unknown[],
    callback: (error: Error | undefined, result: QueryResult | QueryResult[]) => void,
  ) {
    super({}, callback);
    this.submit = (connection: Connection) => this.send(connection as DriverConnection);
  }

  /** As the driver's submit: an error returned, not thrown, fails this query and not the connection. */
  private send(connection: DriverConnection): Error | null {
    for (const { name, text } of this.statements) {
      const parsed = connection.parsedStatements[name];
      if (parsed !== undefined && parsed !== text)
        return new Error(`prepared statement ${name} has two texts`);
    }
    connection.stream.cork?.();
    try {
      for (const { name, text } of this.statements) {
        if (connection.parsedStatements[name] === undefined) {
          // Closing a statement that does not exist is no error: this clears one left by a failed exchange.
          connection.close({ type: 'S', name }, true);
          connection.parse({ name, text, types: [] }, true);
          connection.parsedStatements[name] = text;
          this.parsing.push(name);
        }
        connection.bind(
          { statement: name, values: this.values, valueMapper: prepareValue } as Parameters<
            Connection['bind']
          >[0],
          true,
        );
        connection.describe({ type: 'P', name: '' }, true);
        connection.execute({ portal: '' }, true);
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  override handleError(error: Error, connection: Connection): void {
    for (const name of this.parsing) delete (connection as DriverConnection).parsedStatements[name];
    super.handleError(error, connection);
  }
}

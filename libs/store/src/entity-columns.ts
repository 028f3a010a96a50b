import { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * Whole-entity reads in plain SQL, for the reads every job makes (its run, its event): TypeORM's
 * `findOneBy` builds and parses its query anew on each call, which costs the worker more CPU than
 * the round trip. The column list comes from the entity's metadata, so it follows the entity, and
 * the driver converts values as it does for TypeORM (jsonb parsed, timestamps as Dates).
 */
export class EntityColumns<T extends ObjectLiteral> {
  private columns: Array<{ column: string; property: string }> | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly entity: EntityTarget<T>,
  ) {}

  /** `alias.column AS "prefix + property"`, for every column of the entity. */
  select(alias: string, prefix = ''): string {
    return this.list()
      .map(({ column, property }) => `${alias}."${column}" AS "${prefix}${property}"`)
      .join(', ');
  }

  /** The entity from a row selected with {@link select} and the same prefix. */
  from(row: Record<string, unknown>, prefix = ''): T {
    return Object.fromEntries(
      this.list().map(({ property }) => [property, row[`${prefix}${property}`]]),
    ) as T;
  }

  private list(): Array<{ column: string; property: string }> {
    this.columns ??= this.db.getMetadata(this.entity).columns.map((c) => ({
      column: c.databaseName,
      property: c.propertyName,
    }));
    return this.columns;
  }
}

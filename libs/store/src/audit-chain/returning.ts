import { ChainedRecord } from './audit-chain';
import { ChainedTable, contentHashSql } from './chained-tables';

/** RETURNING clause giving each written row's id and content hash, for chaining it. */
export function returningChained(table: ChainedTable): string {
  return `"id"::text AS "id", ${contentHashSql(table)} AS "content_sha256"`;
}

export interface ChainedRow {
  id: string;
  content_sha256: string;
}

export function chained(type: ChainedTable, action: string, rows: ChainedRow[]): ChainedRecord[] {
  return rows.map((row) => ({ type, id: row.id, action, contentSha256: row.content_sha256 }));
}

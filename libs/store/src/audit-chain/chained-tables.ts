/**
 * The audit tables whose rows are chained, and the columns left out of a row's content hash
 * because they are operational state rather than audit facts (an event's outbox mark and routing
 * claim).
 */
export const CHAINED_TABLES = {
  notification: [],
  event: ['enqueued_at', 'claimed_at'],
  plugin_run: [],
  write_back: [],
  dead_letter: [],
  failed_job: [],
  admin_action: [],
  audit_checkpoint: [],
} as const satisfies Record<string, readonly string[]>;

export type ChainedTable = keyof typeof CHAINED_TABLES;

export function isChainedTable(name: string): name is ChainedTable {
  return Object.prototype.hasOwnProperty.call(CHAINED_TABLES, name);
}

/**
 * SQL for the sha256 of a row's content: PostgreSQL's own jsonb text of the row (keys in a stable
 * order, timestamps to the microsecond, numbers exact), so the hash computed when the row is written
 * and the one computed by `verify` years later come from the same canonical form.
 */
export function contentHashSql(table: ChainedTable, alias: string = table): string {
  const left = CHAINED_TABLES[table].map((column) => ` - '${column}'`).join('');
  return `encode(sha256(convert_to((to_jsonb(${alias}.*)${left})::text, 'UTF8')), 'hex')`;
}

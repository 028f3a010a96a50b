import { Command, Option } from 'commander';
import type { DeadLetterRecord } from '../../admin/admin-api.types';

/** Where the CLI finds the admin API, and how it proves it may use it. */
export interface AdminApiTarget {
  url: string;
  token?: string;
  actor: string;
}

type Write = (text: string) => void;

interface FilterOptions {
  status?: string;
  source?: string;
  plugin?: string;
  httpStatus?: string;
  since?: string;
  before?: string;
  limit?: string;
}

async function call<T>(target: AdminApiTarget, method: string, path: string, body?: unknown): Promise<T> {
  const url = `${target.url.replace(/\/+$/, '')}/api/dead-letters${path}`;
  const response = await fetch(url, {
    method,
    headers: {
      accept: 'application/json',
      ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
      'x-aegle-actor': target.actor,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch((error: unknown) => {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach Aegle at ${target.url} (${cause?.code ?? cause?.message ?? String(error)})`,
    );
  });
  const text = await response.text();
  if (!response.ok) {
    const message = (() => {
      try {
        return (JSON.parse(text) as { message?: unknown }).message;
      } catch {
        return text;
      }
    })();
    const hint = response.status === 401 && !target.token ? ' (set AEGLE_ADMIN_TOKEN)' : '';
    throw new Error(`the admin API answered HTTP ${response.status}: ${String(message)}${hint}`);
  }
  return JSON.parse(text) as T;
}

function query(options: FilterOptions): string {
  const params = new URLSearchParams(
    Object.entries(options).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  const text = params.toString();
  return text ? `?${text}` : '';
}

function table(rows: DeadLetterRecord[]): string {
  if (rows.length === 0) return 'no dead letters match\n';
  const lines = rows.map((r) =>
    [
      r.id,
      r.status,
      r.sourceId,
      `${r.pluginId}@${r.pluginVersion}`,
      r.httpStatus ?? '-',
      r.failedAt,
      r.replayCount,
      r.reason.length > 80 ? `${r.reason.slice(0, 77)}...` : r.reason,
    ].join('\t'),
  );
  return ['ID\tSTATUS\tSOURCE\tPLUGIN\tHTTP\tFAILED AT\tREPLAYS\tREASON', ...lines].join('\n') + '\n';
}

const filterOptions = (command: Command): Command =>
  command
    .option('--status <list>', 'open, replaying, resolved (comma-separated)')
    .option('--source <id>', 'EHR source id')
    .option('--plugin <id>', 'plugin id')
    .option('--http-status <code>', 'the HTTP status the EHR answered')
    .option('--since <iso>', 'failed at or after this time')
    .option('--before <iso>', 'failed before this time')
    .option('--limit <n>', 'at most this many');

/**
 * `aegle dead-letters list|show|replay`: the admin API's dead letters from a terminal. The API's URL
 * and token come from `--url`/`AEGLE_URL` and `AEGLE_ADMIN_TOKEN` (never a flag, so it stays out of
 * shell history).
 */
export function registerDeadLetterCommands(
  program: Command,
  out: Write = (t) => process.stdout.write(t),
  env: NodeJS.ProcessEnv = process.env,
): void {
  const group = program
    .command('dead-letters')
    .description('Write-backs the EHR refused or that ran out of retries: list, inspect, replay')
    .addOption(new Option('--url <url>', 'Aegle base URL').env('AEGLE_URL').default('http://127.0.0.1:3000'))
    .option('--json', 'print JSON instead of a table');
  const target = (): AdminApiTarget => ({
    url: group.opts<{ url: string }>().url,
    token: env.AEGLE_ADMIN_TOKEN,
    actor: `cli:${env.USER ?? 'unknown'}`,
  });
  const json = () => group.opts<{ json?: boolean }>().json === true;

  filterOptions(
    group.command('list').description('List dead letters (open ones unless --status says)'),
  ).action(async (options: FilterOptions) => {
    const rows = await call<DeadLetterRecord[]>(target(), 'GET', query({ status: 'open', ...options }));
    out(json() ? `${JSON.stringify(rows, null, 2)}\n` : table(rows));
  });

  group
    .command('show <id>')
    .description("One dead letter: the EHR's OperationOutcome and every attempt")
    .action(async (id: string) => {
      const detail = await call<unknown>(target(), 'GET', `/${encodeURIComponent(id)}`);
      out(`${JSON.stringify(detail, null, 2)}\n`);
    });

  filterOptions(
    group
      .command('replay [id]')
      .description('Replay one dead letter, or with --all every one matching the filters (idempotent)')
      .option('--all', 'replay every dead letter matching the filters'),
  ).action(async (id: string | undefined, options: FilterOptions & { all?: boolean }) => {
    const { all, ...filter } = options;
    if (!id && !all) throw new Error('name a dead letter id, or pass --all (with filters) to replay many');
    if (id && all) throw new Error('give either an id or --all, not both');
    const results = id
      ? [await call<{ id: string; status: string }>(target(), 'POST', `/${encodeURIComponent(id)}/replay`)]
      : await call<Array<{ id: string; status: string }>>(target(), 'POST', '/replay', filter);
    out(
      json()
        ? `${JSON.stringify(results, null, 2)}\n`
        : results.length === 0
          ? 'no dead letters match\n'
          : results.map((r) => `${r.id}\t${r.status}`).join('\n') + '\n',
    );
  });
}

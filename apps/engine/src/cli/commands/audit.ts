import { Command, InvalidArgumentError } from 'commander';
import { DataSource } from 'typeorm';
import {
  AUDIT_ENTITIES,
  AuditChain,
  AuditRetention,
  ChainPoint,
  parseAnchor,
  verifyAuditChain,
  VerifyReport,
} from '@aegle/store';

/** The audit database named by DATABASE_URL; verify reads only, and never migrates. */
async function connect(): Promise<DataSource> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: point it at the PostgreSQL database Aegle audits to');
  const db = new DataSource({ type: 'postgres', url, entities: AUDIT_ENTITIES, extra: { max: 2 } });
  await db.initialize();
  return db;
}

function describe(report: VerifyReport): string {
  const lines = [
    `from   ${report.from.checkpoint ? 'checkpoint' : 'genesis'} at entry ${report.from.seq}`,
    `head   entry ${report.head.seq} ${report.head.entryHash}`,
    `walked ${report.entriesChecked} entries, re-hashed ${report.rowsChecked} records`,
  ];
  if (report.valid) return [...lines, 'chain intact'].join('\n');
  return [
    ...lines,
    `BROKEN: ${report.firstBroken!.problem}`,
    ...report.problems.slice(1).map((p) => `  also: ${p.problem}`),
  ].join('\n');
}

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};

/** `aegle audit verify | prune`. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit trail');

  audit
    .command('verify')
    .description('walk the hash chain, re-hash every audited record and name the first broken link')
    .option('--json', 'print the full report as JSON')
    .option(
      '--anchor <seq:hash>',
      'an entry hash kept outside the database (from an earlier verify); repeatable',
      (value: string, previous: ChainPoint[]) => [...previous, parseAnchor(value)],
      [] as ChainPoint[],
    )
    .action(async (options: { json?: boolean; anchor: ChainPoint[] }) => {
      const db = await connect();
      try {
        const report = await verifyAuditChain(db, { anchors: options.anchor });
        process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : describe(report)}\n`);
        if (!report.valid) process.exitCode = 2;
      } finally {
        await db.destroy();
      }
    });

  audit
    .command('prune')
    .description('delete audit records older than the given age, leaving a checkpoint verify starts from')
    .requiredOption('--older-than-days <days>', 'age in days', positive)
    .action(async (options: { olderThanDays: number }) => {
      const db = await connect();
      try {
        const retention = new AuditRetention(db, new AuditChain(db));
        const result = await retention.prune(new Date(Date.now() - options.olderThanDays * 86_400_000));
        process.stdout.write(
          result.checkpoint
            ? `checkpoint at entry ${result.checkpoint.seq}; pruned ${JSON.stringify(result.pruned)}\n`
            : 'nothing old enough to prune\n',
        );
      } finally {
        await db.destroy();
      }
    });
}

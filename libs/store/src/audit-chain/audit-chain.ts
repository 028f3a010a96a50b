import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ChainedTable } from './chained-tables';

/** One audited change: which row, what happened to it, and the hash of its content afterwards. */
export interface ChainedRecord {
  type: ChainedTable;
  id: string;
  action: string;
  contentSha256: string;
}

/** What one audited write returns: its result for the caller, and the records to chain. */
export interface Audited<T> {
  result: T;
  records: ChainedRecord[];
}

/** A unit of audited work: database writes in the given transaction, and the records they made. */
export type AuditedWork<T> = (tx: EntityManager) => Promise<Audited<T>>;

/**
 * A write that many callers make (open a run, complete it): the items of one batch go to the
 * database as one multi-row statement. `run` answers one result per item, in order.
 */
export interface BatchedWrite<I, T> {
  /**
   * Its one statement appends its rows to the chain itself (audit_append in the same statement), so
   * it needs no transaction: it runs on its own, one round trip instead of four (begin, write, link,
   * commit), and answers no records.
   */
  readonly linksItself?: boolean;
  run(tx: EntityManager, items: I[]): Promise<Array<Audited<T>>>;
}

interface Pending {
  op: BatchedWrite<unknown, unknown>;
  item: unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Opaque work is its own batch of one. */
const SINGLE: BatchedWrite<AuditedWork<unknown>, unknown> = {
  run: async (tx, works) => {
    const done: Array<Audited<unknown>> = [];
    for (const work of works) done.push(await work(tx));
    return done;
  },
};

/** Work items folded into one transaction at most. */
const MAX_BATCH = 256;
/**
 * Transactions in flight at once per process: while one waits for the head lock or its commit, the
 * next does its domain writes. The head is locked last, after the domain writes, so they cannot deadlock.
 */
const MAX_IN_FLIGHT = 2;

/**
 * Appends to the hash chain in the same transaction as the domain rows it records, so a row never
 * exists without its audit entry. Writes from concurrent callers are grouped into one transaction
 * (one commit, one lock of the chain head) while the previous one commits: the audit costs a few
 * statements per batch, not per row. The chain head row is locked FOR UPDATE while linking, which
 * serialises writers in every process, so the chain never forks.
 */
@Injectable()
export class AuditChain implements BeforeApplicationShutdown {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly db: DataSource) {}

  /** Runs `work` in a (possibly shared) transaction and chains the records it returns. */
  write<T>(work: AuditedWork<T>): Promise<T> {
    return this.submit(SINGLE as BatchedWrite<AuditedWork<T>, T>, work);
  }

  /** Queues one item of a batched write; items of the same write in one batch share a statement. */
  submit<I, T>(op: BatchedWrite<I, T>, item: I): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        op: op as BatchedWrite<unknown, unknown>,
        item,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.pump();
    });
  }

  /** Chains records written by the caller's own transaction (after its domain writes). */
  async link(tx: EntityManager, records: ChainedRecord[]): Promise<void> {
    if (records.length === 0) return;
    await tx.query(`SELECT audit_append($1::text[], $2::text[], $3::text[], $4::text[])`, [
      records.map((r) => r.type),
      records.map((r) => r.id),
      records.map((r) => r.action),
      records.map((r) => r.contentSha256),
    ]);
  }

  /** Lets queued audit writes commit before the database pool closes. */
  beforeApplicationShutdown(): Promise<void> {
    return this.idle();
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts a transaction for what is queued, unless enough are already in flight. */
  private pump(): void {
    if (this.inFlight === 0 && this.queue.length === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      this.inFlight += 1;
      void this.flush(this.queue.splice(0, MAX_BATCH)).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    const results = new Array<unknown>(batch.length);
    const run = async (tx: EntityManager, op: BatchedWrite<unknown, unknown>, positions: number[]) => {
      const answers = await op.run(
        tx,
        positions.map((i) => batch[i].item),
      );
      positions.forEach((position, k) => (results[position] = answers[k].result));
      return answers.flatMap((a) => a.records);
    };
    const groups = [...groupByOperation(batch)];
    const inTransaction = groups.filter(([op]) => !op.linksItself);
    // Each self-linking statement commits on its own and the transaction holds the rest: what
    // failed is retried, never what committed.
    const parts: Array<{ positions: number[]; done: Promise<unknown> }> = [
      ...groups
        .filter(([op]) => op.linksItself)
        .map(([op, positions]) => ({ positions, done: run(this.db.manager, op, positions) })),
    ];
    if (inTransaction.length > 0) {
      parts.push({
        positions: inTransaction.flatMap(([, positions]) => positions),
        done: this.db.transaction(async (tx) => {
          const records: ChainedRecord[] = [];
          for (const [op, positions] of inTransaction) records.push(...(await run(tx, op, positions)));
          await this.link(tx, records);
        }),
      });
    }
    const outcomes = await Promise.allSettled(parts.map((part) => part.done));
    const failed = new Set<number>();
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'rejected') for (const position of parts[i].positions) failed.add(position);
    });
    batch.forEach((item, i) => failed.has(i) || item.resolve(results[i]));
    if (failed.size === 0) return;
    // One bad item must not fail its neighbours: run each on its own to find it.
    if (batch.length === 1) {
      const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
      return batch[0].reject(rejected.reason);
    }
    for (const position of failed) await this.flush([batch[position]]);
  }
}

/** Positions of the batch's items per write, in order of first appearance. */
function groupByOperation(batch: Pending[]): Map<BatchedWrite<unknown, unknown>, number[]> {
  const groups = new Map<BatchedWrite<unknown, unknown>, number[]>();
  batch.forEach((pending, i) => {
    const positions = groups.get(pending.op);
    if (positions) positions.push(i);
    else groups.set(pending.op, [i]);
  });
  return groups;
}

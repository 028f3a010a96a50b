import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The one catalogue of Aegle's Prometheus metrics. A metric is declared here once and imported
 * where it is observed; `/metrics` serves the registry.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'aegle_process_' });

export const notificationsTotal = new Counter({
  name: 'aegle_notifications_total',
  help: 'Notifications received, by source and outcome (accepted, duplicate, rejected status)',
  labelNames: ['source', 'outcome'] as const,
  registers: [registry],
});

export const pluginRunsTotal = new Counter({
  name: 'aegle_plugin_runs_total',
  help: 'Plugin runs by plugin, version, outcome and execution provider',
  labelNames: ['plugin', 'version', 'outcome', 'provider'] as const,
  registers: [registry],
});

export const inferenceSeconds = new Histogram({
  name: 'aegle_inference_seconds',
  help: 'Time of one session.run (a whole micro-batch), by model',
  labelNames: ['model', 'provider'] as const,
  buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
  registers: [registry],
});

export const inferenceBatchSize = new Histogram({
  name: 'aegle_inference_batch_size',
  help: 'Rows per session.run, by model',
  labelNames: ['model'] as const,
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers: [registry],
});

export const writeBackAttemptsTotal = new Counter({
  name: 'aegle_writeback_attempts_total',
  help: 'Write-back attempts by source and outcome (created, exists, retrying, dead)',
  labelNames: ['source', 'outcome'] as const,
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'aegle_queue_depth',
  help: 'Jobs per queue and state (waiting, active, delayed, prioritized, failed = dead letters), refreshed on scrape',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

export const deadLettersTotal = new Counter({
  name: 'aegle_dead_letters_total',
  help: 'Jobs that failed for good (retries exhausted or unrecoverable), by queue; replay them from the admin API',
  labelNames: ['queue'] as const,
  registers: [registry],
});

export const auditChainHead = new Gauge({
  name: 'aegle_audit_chain_head',
  help: 'Sequence number of the newest entry of the audit hash chain (its hash is the label), refreshed on scrape',
  labelNames: ['hash'] as const,
  registers: [registry],
});

/** The newest entry of the audit hash chain, as the audit trail reports it. */
export interface AuditChainHead {
  seq: number;
  hash: string;
}

let auditChainHeadSource: (() => Promise<AuditChainHead | undefined>) | undefined;

/**
 * Lets the audit trail report its chain head to `/metrics` without telemetry depending on it:
 * the audit module registers a reader at start-up; each scrape calls it.
 */
export function reportAuditChainHead(source: () => Promise<AuditChainHead | undefined>): void {
  auditChainHeadSource = source;
}

/** Called on scrape: sets {@link auditChainHead} from the registered reader, if any. */
export async function refreshAuditChainHead(): Promise<void> {
  const head = await auditChainHeadSource?.();
  auditChainHead.reset();
  if (head) auditChainHead.set({ hash: head.hash }, head.seq);
}

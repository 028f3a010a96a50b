import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The one catalogue of Aegle's Prometheus metrics. A metric is declared here once and imported
 * where it is observed; `/metrics` serves the registry.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'aegle_process_' });

/** Recorders that buffer a hot path's observations, handed over before any read of what they feed. */
const bufferedRecorders = new Set<() => void>();

/**
 * Has `flush` called before every read (a scrape, a test's `get()`) of the inference run metrics,
 * so that a recorder may buffer their observations; returns the undo.
 */
export function flushBeforeRead(flush: () => void): () => void {
  bufferedRecorders.add(flush);
  return () => bufferedRecorders.delete(flush);
}

function flushBuffered(): void {
  for (const flush of bufferedRecorders) flush();
}

export const notificationsTotal = new Counter({
  name: 'aegle_notifications_total',
  help: 'Notifications received, by source and outcome (accepted, duplicate, rejected status)',
  labelNames: ['source', 'outcome'] as const,
  registers: [registry],
});

export const databaseStatementsTotal = new Counter({
  name: 'aegle_db_statements_total',
  help: 'Statements sent to PostgreSQL, transaction control included: each is one round trip',
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
  collect: flushBuffered,
});

export const inferenceBatchSize = new Histogram({
  name: 'aegle_inference_batch_size',
  help: 'Rows per session.run, by model',
  labelNames: ['model'] as const,
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers: [registry],
  collect: flushBuffered,
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
  // Read from Redis by the process that answers the scrape; never summed over HTTP processes.
  aggregator: 'omit',
});

export const writeBackBreakerState = new Gauge({
  name: 'aegle_writeback_breaker_state',
  help: "Each source's write-back circuit breaker: 1 for its current state (closed, open, half-open)",
  labelNames: ['source', 'state'] as const,
  registers: [registry],
});

export const deadLettersTotal = new Counter({
  name: 'aegle_dead_letters_total',
  help: 'Write-backs that became dead letters, by source and reason (refused, horizon, stalled)',
  labelNames: ['source', 'reason'] as const,
  registers: [registry],
});

export const writeBackBreakerTransitionsTotal = new Counter({
  name: 'aegle_writeback_breaker_transitions_total',
  help: "Changes of a source's write-back circuit breaker, by the state entered (open, half-open, closed)",
  labelNames: ['source', 'to'] as const,
  registers: [registry],
});

export const inferenceRequestsTotal = new Counter({
  name: 'aegle_inference_requests_total',
  help: 'Single-row inference requests by model, execution provider that ran them, and outcome (ok, failed, invalid)',
  labelNames: ['model', 'provider', 'outcome'] as const,
  registers: [registry],
  collect: flushBuffered,
});

export const inferenceModelInfo = new Gauge({
  name: 'aegle_inference_model_info',
  help: 'Loaded models (1): the execution policy asked and the provider its session really runs on',
  labelNames: ['model', 'execution', 'provider'] as const,
  registers: [registry],
  // An info gauge (1 per loaded model): several processes with the same model still say 1.
  aggregator: 'max',
});

export const inferenceSessionMemoryBytes = new Gauge({
  name: 'aegle_inference_session_memory_bytes',
  help: 'Memory of loaded sessions by model: the model file (model) and the process RSS growth measured at load (rss_at_load)',
  labelNames: ['model', 'kind'] as const,
  registers: [registry],
});

export const failedJobsTotal = new Counter({
  name: 'aegle_failed_jobs_total',
  help: 'Queue jobs that failed for good (retries exhausted or unrecoverable), by queue; see the admin API',
  labelNames: ['queue'] as const,
  registers: [registry],
});

export const auditChainHead = new Gauge({
  name: 'aegle_audit_chain_head',
  help: 'Sequence number of the newest entry of the audit hash chain (its hash is the label), refreshed on scrape',
  labelNames: ['hash'] as const,
  registers: [registry],
  // Read from the audit trail by the process that answers the scrape; never summed.
  aggregator: 'omit',
});

/** The newest entry of the audit hash chain, as the audit trail reports it. */
export interface AuditChainHead {
  seq: number;
  hash: string;
}

let auditChainHeadSource: (() => Promise<AuditChainHead | undefined>) | undefined;

/**
 * Lets the audit trail report its chain head to `/metrics` without telemetry depending on it:
 * the metrics module registers the store's reader at start-up; each scrape calls it.
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

export const ehrConcurrencyCap = new Gauge({
  name: 'aegle_ehr_concurrency_cap',
  help: "Each source's current cap on requests in flight to its EHR (adaptive, shared by every Aegle process)",
  labelNames: ['source'] as const,
  registers: [registry],
});

export const ehrInFlight = new Gauge({
  name: 'aegle_ehr_in_flight',
  help: 'Requests in flight to each source EHR, from every Aegle process, as last seen by this one',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const ehrQueueWaitSeconds = new Histogram({
  name: 'aegle_ehr_queue_wait_seconds',
  help: "Time a request waited for its source's cap or request budget before going to the EHR",
  labelNames: ['source'] as const,
  buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

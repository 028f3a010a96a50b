// What the console API answers (timeline feed, chart figures). No imports: the admin console's own
// build (apps/console) imports these types too, so server and page cannot drift apart.

/** What the console's timeline shows: every audited change but the admin API's own calls, unless asked. */
export const TIMELINE_KINDS = [
  'notification',
  'event',
  'plugin_run',
  'write_back',
  'dead_letter',
  'failed_job',
  'admin_action',
] as const;

export type TimelineKind = (typeof TIMELINE_KINDS)[number];

/**
 * One line of the timeline: an audit-chain entry and a summary of the row it records, as the row
 * stands now. It names resources and plugins, never a patient: the feed is polled all day.
 */
export interface TimelineItem {
  /** The audit entry's sequence number: commit order, so a cursor on it never skips a row. */
  seq: string;
  at: string;
  kind: TimelineKind;
  action: string;
  recordId: string;
  sourceId: string | null;
  pluginId: string | null;
  pluginVersion: string | null;
  /** Event status, run outcome, write-back outcome, dead-letter status, notification HTTP status. */
  status: string | null;
  reason: string | null;
  /** The EHR resource: an event's focus, a write-back's resource. */
  resource: string | null;
  runId: string | null;
  mode: string | null;
  latencyMs: number | null;
  httpStatus: number | null;
}

export interface TimelinePage {
  /** Newest first. */
  items: TimelineItem[];
  /** Pass back as `after` to get what is newer. */
  cursor: string;
  /** More entries after `cursor` than this page held: ask again at once. */
  more: boolean;
}

export interface StatsBucket {
  /** Bucket start, seconds since the epoch. */
  t: number;
  events: number;
  succeeded: number;
  skipped: number;
  failed: number;
  written: number;
  deadLetters: number;
  /** Inference latency of the runs that finished in the bucket (ms). */
  inferenceP50: number | null;
  inferenceP95: number | null;
  /** Notification received → Observation written (ms). */
  endToEndP50: number | null;
  endToEndP95: number | null;
}

export interface PluginStats {
  pluginId: string;
  pluginVersion: string;
  succeeded: number;
  skipped: number;
  failed: number;
  pending: number;
  inferenceP50: number | null;
  inferenceP95: number | null;
}

export interface Stats {
  from: string;
  to: string;
  bucketSeconds: number;
  buckets: StatsBucket[];
  plugins: PluginStats[];
}

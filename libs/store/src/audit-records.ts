// The audit API's records as the admin API answers them (the console, the CLI, the audit
// endpoints). No imports: the admin console's own build (apps/console) imports these types too.

/** One input of a run as the audit trail keeps it: the value, or its HMAC under `storeInputs: hash`. */
export interface StoredInput {
  /** What a clinician calls the input ("sex"), from the plugin's manifest. */
  label?: string;
  value?: unknown;
  /** An image input's tensor, exactly as the model got it. */
  values?: number[];
  valueHmac?: string;
  unit?: string;
  display?: string;
  /** False when nothing was recorded and the value stands for that absence (apart from "recorded as no"). */
  recorded?: boolean;
  defaulted?: boolean;
  /** Why the model was not given the value as recorded (its "unknown" or "mixed" category, a default). */
  caveat?: string;
  source?: { reference: string; effective?: string };
}

export interface EventRecord {
  id: string;
  notificationId: string;
  sourceId: string;
  interaction: string;
  focus: string;
  subscription: string | null;
  topic: string | null;
  eventNumber: string | null;
  status: string;
  reason: string | null;
  createdAt: string;
}

export interface RunRecord {
  id: string;
  eventId: string;
  sourceId: string;
  patientRef: string | null;
  model: { pluginId: string; pluginVersion: string; modelSha256: string; executionProvider: string | null };
  /** The exact inputs by name, as `audit.storeInputs` kept them (see {@link StoredInput}). */
  inputs: Record<string, StoredInput> | null;
  /** What a successful run stored for write-back (the plugin SDK's `RunResult`). */
  outputs: object | null;
  latencyMs: number | null;
  outcome: string;
  /** `live` and `canary` results are written; `shadow` ones only audited. */
  mode: string;
  /** The upstream run whose result started this one (an `after` trigger). */
  triggeredBy: string | null;
  reason: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface WriteBackRecord {
  id: string;
  runId: string;
  sourceId: string;
  pluginId: string;
  patientRef: string | null;
  resourceType: string;
  resourceId: string | null;
  identifier: string;
  attempt: number;
  httpStatus: number | null;
  outcome: string;
  /**
   * What the EHR answered a refused attempt (its OperationOutcome, else the error's message), or
   * for an earlier result now superseded, how and by what.
   */
  response: {
    issue?: Array<{ severity?: string; code?: string; diagnostics?: string }>;
    message?: string;
    mode?: string;
    by?: string;
  } | null;
  createdAt: string;
}

export interface NotificationRecord {
  id: string;
  sourceId: string;
  receivedAt: string;
  shape: string | null;
  contentType: string | null;
  bodySha256: string;
  bodyBytes: number;
  headers: Record<string, string>;
  httpStatus: number;
  error: string | null;
  eventCount: number;
}

/** Everything behind one Observation Aegle wrote, and whether its audit records are intact. */
export interface ObservationStory {
  observation: { reference: string; sourceId: string; identifier: string };
  notification: NotificationRecord;
  event: EventRecord;
  run: RunRecord;
  writeBacks: WriteBackRecord[];
  audit: RecordTrail;
}

/** Everything behind one plugin run, whatever came of it (written, skipped, failed, dead letter). */
export interface RunStory {
  notification: NotificationRecord;
  event: EventRecord;
  run: RunRecord;
  writeBacks: WriteBackRecord[];
  /** The Observation the run wrote (its latest successful write-back), if any. */
  observation: { reference: string; identifier: string } | null;
  deadLetter: { id: string; status: string; httpStatus: number | null; reason: string } | null;
  audit: RecordTrail;
}

export interface TrailEntry {
  seq: string;
  /** ISO 8601. */
  at: string;
  recordType: string;
  recordId: string;
  action: string;
  entryHash: string;
}

export interface RecordTrail {
  entries: TrailEntry[];
  /** True when each entry hashes to itself and each record still matches its latest entry. */
  intact: boolean;
  problems: string[];
}

/** Where the time of one run went, in milliseconds; null where a step has not happened. */
export interface RunTimings {
  /** Notification received → event stored → run opened: intake and queueing. */
  queuedMs: number | null;
  /** Run opened → run finished (reading the inputs from the EHR, inference, outputs). */
  runMs: number | null;
  /** Inference alone, as the runtime measured it. */
  inferenceMs: number | null;
  /** Run finished → the Observation written. */
  writeBackMs: number | null;
  /** Notification received → the Observation written (or the last write-back attempt). */
  totalMs: number | null;
}

/** A run's story as `GET /api/console/runs/:id` answers it. */
export type RunStoryView = RunStory & { timings: RunTimings; inputsStored: 'full' | 'hash' };

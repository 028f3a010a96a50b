// The console's only door to Aegle: the admin API, with the token the person typed in.

const TOKEN_KEY = 'aegle.adminToken';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Kept for this tab only: closing it signs out. */
export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

let onUnauthorized: (message: string) => void = () => undefined;
/** Called when Aegle refuses the token mid-session (rotated, or the admin API switched off). */
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

async function request<T>(
  method: 'GET' | 'POST',
  path: string,
  token = session.token(),
  signedIn = true,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${token ?? ''}`,
        accept: 'application/json',
        'x-aegle-actor': 'console',
      },
    });
  } catch {
    throw new ApiError(0, 'Aegle cannot be reached. Is it running?');
  }
  const body = (await response.json().catch(() => null)) as { message?: string | string[] } | null;
  if (!response.ok) {
    const message = Array.isArray(body?.message)
      ? body.message.join('; ')
      : (body?.message ?? response.statusText);
    if (response.status === 401 && signedIn) onUnauthorized(message);
    throw new ApiError(response.status, message);
  }
  return body as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string) => request<T>('POST', path),
  /** Tries a token before keeping it. */
  check: (token: string) => request<unknown>('GET', '/api/console/timeline?limit=1', token, false),
};

// Shapes of the admin API's answers (see /api/docs).

export type {
  Stats,
  StatsBucket,
  TimelineItem,
  TimelineKind,
  TimelinePage,
} from '../../../libs/store/src/console-views';
export type {
  DeadLetterRecord as DeadLetter,
  PluginsView,
  PluginVersionView as PluginVersion,
} from '../../engine/src/admin/admin-api.types';

export interface InputValue {
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
  source?: { reference?: string; effective?: string };
}

export interface Finding {
  tensor: string;
  code: { system?: string; code?: string; display?: string };
  value: number;
  /** `<` or `>`: a probability reported at its bound, never as 0 or 100 %. */
  comparator?: '<' | '>';
  unit: string;
  band?: { text?: string; min?: number; max?: number };
  note?: string;
}

export interface RunRecord {
  id: string;
  eventId: string;
  sourceId: string;
  patientRef: string | null;
  model: { pluginId: string; pluginVersion: string; modelSha256: string; executionProvider: string | null };
  inputs: Record<string, InputValue> | null;
  outputs: { findings?: Finding[]; focus?: string; effective?: string; sources?: string[] } | null;
  latencyMs: number | null;
  outcome: string;
  mode: string;
  triggeredBy: string | null;
  reason: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface WriteBackRecord {
  id: string;
  resourceType: string;
  resourceId: string | null;
  identifier: string;
  attempt: number;
  httpStatus: number | null;
  outcome: string;
  response: { issue?: Array<{ diagnostics?: string; code?: string }> } | null;
  createdAt: string;
}

export interface AuditEntry {
  seq: string;
  at: string;
  recordType: string;
  recordId: string;
  action: string;
  entryHash: string;
}

export interface RunStory {
  notification: {
    id: string;
    receivedAt: string;
    shape: string | null;
    contentType: string | null;
    bodySha256: string;
    bodyBytes: number;
    httpStatus: number;
  };
  event: {
    id: string;
    interaction: string;
    focus: string;
    subscription: string | null;
    eventNumber: string | null;
    status: string;
    reason: string | null;
    createdAt: string;
  };
  run: RunRecord;
  writeBacks: WriteBackRecord[];
  observation: { reference: string; identifier: string } | null;
  deadLetter: { id: string; status: string; httpStatus: number | null; reason: string } | null;
  audit: { intact: boolean; entries: AuditEntry[]; problems: string[] };
  timings: {
    queuedMs: number | null;
    runMs: number | null;
    inferenceMs: number | null;
    writeBackMs: number | null;
    totalMs: number | null;
  };
  inputsStored: 'full' | 'hash';
}

export interface Subscription {
  sourceId: string;
  subscription: string;
  topic: string | null;
  status: string | null;
  contiguousThrough: number | null;
  highestEventNumber: number | null;
  eventsSinceStart: number | null;
  lastNotificationAt: string | null;
  lastHeartbeatAt: string | null;
  lastSeenAt: string | null;
  heartbeatOverdueSince: string | null;
}

export interface CatchUp {
  id: string;
  sourceId: string;
  subscription: string;
  reason: string;
  fromEvent: number | null;
  toEvent: number | null;
  status: string;
  method: string | null;
  recovered: number;
  attempts: number;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

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

// Shapes of the admin API's answers (see /api/docs), as the engine declares them.
import type { RunRecord as StoredRun, RunStoryView } from '../../../libs/store/src/audit-records';
import type { RunResult } from '../../../libs/plugin-sdk/src/run-result';

/** A run as the audit API answers it, its outputs read as what a run stores. */
export type RunRecord = Omit<StoredRun, 'outputs'> & { outputs: RunResult | null };
export type RunStory = Omit<RunStoryView, 'run'> & { run: RunRecord };

export type {
  Stats,
  StatsBucket,
  TimelineItem,
  TimelineKind,
  TimelinePage,
} from '../../../libs/store/src/console-views';
export type {
  RecordTrail,
  RunTimings,
  StoredInput as InputValue,
  TrailEntry as AuditEntry,
  WriteBackRecord,
} from '../../../libs/store/src/audit-records';
export type { StoredFinding as Finding } from '../../../libs/plugin-sdk/src/run-result';
export type {
  DeadLetterRecord as DeadLetter,
  PluginsView,
  PluginVersionView as PluginVersion,
} from '../../engine/src/admin/admin-api.types';

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

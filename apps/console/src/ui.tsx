import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export const fmt = {
  time: (iso: string | null | undefined) =>
    iso ? new Date(iso).toLocaleTimeString(undefined, { hour12: false }) : '—',
  dateTime: (iso: string | null | undefined) =>
    iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) : '—',
  ms: (ms: number | null | undefined) =>
    ms === null || ms === undefined
      ? '—'
      : ms >= 10_000
        ? `${(ms / 1000).toFixed(1)} s`
        : `${Math.round(ms)} ms`,
  ago: (iso: string | null | undefined) => {
    if (!iso) return 'never';
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return `${Math.round(s)} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  },
  short: (hash: string | null | undefined, n = 12) => (hash ? `${hash.slice(0, n)}…` : '—'),
};

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted';

const TONES: Record<string, Tone> = {
  succeeded: 'ok',
  created: 'ok',
  exists: 'ok',
  routed: 'ok',
  resolved: 'ok',
  live: 'ok',
  received: 'info',
  accepted: 'info',
  opened: 'info',
  pending: 'info',
  replaying: 'info',
  canary: 'info',
  superseded: 'muted',
  idle: 'muted',
  shadow: 'muted',
  stale: 'muted',
  skipped: 'warn',
  retrying: 'warn',
  open: 'bad',
  failed: 'bad',
  dead: 'bad',
};

export function toneOf(status: string | null | undefined): Tone {
  if (!status) return 'muted';
  if (/^\d{3}$/.test(status)) return status.startsWith('2') ? 'ok' : status.startsWith('4') ? 'warn' : 'bad';
  return TONES[status] ?? 'muted';
}

export function Badge({ children, tone }: { children: ComponentChildren; tone?: Tone }) {
  return <span class={`badge badge-${tone ?? toneOf(String(children))}`}>{children}</span>;
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty" role="status">
      <strong>{title}</strong>
      {children && <p>{children}</p>}
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  const message =
    error instanceof ApiError
      ? `${error.status ? `${error.status}: ` : ''}${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <div class="error" role="alert">
      <strong>Something went wrong.</strong> {message}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/** Loads once (and again on reload or when `key` changes); with `everyMs`, refreshes while visible. */
export function useAsync<T>(load: () => Promise<T>, key: unknown[] = [], everyMs?: number): Async<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    setLoading(true);
    loadRef.current().then(
      (value) => live && (setData(value), setError(undefined), setLoading(false)),
      (err: unknown) => live && (setError(err), setLoading(false)),
    );
    return () => {
      live = false;
    };
  }, [...key, tick]);
  useEffect(() => {
    if (!everyMs) return;
    const timer = setInterval(() => document.visibilityState === 'visible' && setTick((t) => t + 1), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="panel" aria-label={title}>
      <header class="panel-head">
        <h2>{title}</h2>
        {actions && <div class="panel-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function KeyValues({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="kv">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

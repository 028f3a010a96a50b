import { useEffect, useRef, useState } from 'preact/hooks';
import { api, TimelineItem, TimelinePage as Page } from '../api';
import { href } from '../router';
import { Badge, Empty, ErrorBox, fmt, Loading, Section } from '../ui';

/** How often the live feed asks for what is new (the first page is fetched at once). */
const POLL_MS = 2000;
const KEEP = 300;

const KIND_LABELS: Record<TimelineItem['kind'], string> = {
  notification: 'Notification',
  event: 'Event',
  plugin_run: 'Plugin run',
  write_back: 'Write-back',
  dead_letter: 'Dead letter',
  failed_job: 'Failed job',
  admin_action: 'Admin action',
};

function describe(item: TimelineItem): string {
  switch (item.kind) {
    case 'notification':
      return `Notification received from ${item.sourceId ?? 'an EHR'}`;
    case 'event':
      return item.action === 'accepted'
        ? `Event stored: ${item.resource ?? ''}`
        : `Event ${item.action}: ${item.resource ?? ''}`;
    case 'plugin_run':
      return item.action === 'opened'
        ? `Run started`
        : `Run ${item.action}${item.reason ? `: ${item.reason}` : ''}`;
    case 'write_back':
      return `Write-back ${item.action}: ${item.resource ?? ''}`;
    case 'dead_letter':
      return `Dead letter ${item.action}${item.reason ? `: ${item.reason}` : ''}`;
    case 'failed_job':
      return `Job gave up (${item.status ?? 'queue'}): ${item.reason ?? ''}`;
    case 'admin_action':
      return item.reason ?? item.action;
  }
}

/** Entries record a change, rows hold their latest state: the badge shows the change. */
const statusOf = (item: TimelineItem) => (item.kind === 'notification' ? item.status : item.action);

/**
 * The live feed: the newest entries first, then every few seconds what was committed since (the
 * cursor is the audit chain's sequence number, so nothing committed is ever skipped).
 */
export function TimelinePage() {
  const [items, setItems] = useState<TimelineItem[]>([]);
  const [error, setError] = useState<unknown>();
  const [loaded, setLoaded] = useState(false);
  const [paused, setPaused] = useState(false);
  const [updatedAt, setUpdatedAt] = useState<string>();
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const cursor = useRef<string | undefined>(undefined);

  useEffect(() => {
    if (paused) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      let delay = POLL_MS;
      if (document.visibilityState === 'visible') {
        try {
          const page = await api.get<Page>(
            cursor.current === undefined
              ? '/api/console/timeline?limit=100'
              : `/api/console/timeline?after=${cursor.current}&limit=200`,
          );
          if (stopped) return;
          const first = cursor.current === undefined;
          cursor.current = page.cursor;
          if (page.items.length) {
            setItems((old) => [...page.items, ...old].slice(0, KEEP));
            if (!first) setFresh(new Set(page.items.map((i) => i.seq)));
          }
          setLoaded(true);
          setError(undefined);
          setUpdatedAt(new Date().toISOString());
          if (page.more) delay = 0;
        } catch (err) {
          if (stopped) return;
          setError(err);
          delay = POLL_MS * 3;
        }
      }
      if (!stopped) timer = setTimeout(() => void poll(), delay);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [paused]);

  return (
    <>
      <div class="page-head">
        <div>
          <h1>Timeline</h1>
          <p class="muted">
            Every audited change as it is committed: notifications, events, runs, write-backs.
          </p>
        </div>
        <div class="live" aria-live="polite">
          <span class={`dot ${paused ? 'dot-paused' : error ? 'dot-bad' : 'dot-live'}`} aria-hidden="true" />
          <span data-testid="live-state">
            {paused ? 'Paused' : error ? 'Reconnecting…' : `Live · updated ${fmt.time(updatedAt)}`}
          </span>
          <button type="button" class="ghost" onClick={() => setPaused((p) => !p)} aria-pressed={paused}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        </div>
      </div>
      {error !== undefined && <ErrorBox error={error} />}
      <Section title={`Latest ${items.length ? `${items.length} entries` : 'entries'}`}>
        {!loaded && error === undefined ? (
          <Loading what="the timeline" />
        ) : items.length === 0 ? (
          <Empty title="Nothing has happened yet.">
            When an EHR sends a notification it appears here within a few seconds.
          </Empty>
        ) : (
          <div class="table-wrap">
            <table class="data" data-testid="timeline">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Kind</th>
                  <th scope="col">What happened</th>
                  <th scope="col">Source</th>
                  <th scope="col">Plugin</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Inference
                  </th>
                  <th scope="col">
                    <span class="visually-hidden">Open</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((item) => (
                  <tr key={item.seq} class={fresh.has(item.seq) ? 'fresh' : undefined} data-kind={item.kind}>
                    <td class="nowrap mono" title={fmt.dateTime(item.at)}>
                      {fmt.time(item.at)}
                    </td>
                    <td>
                      <span class={`kind kind-${item.kind}`}>{KIND_LABELS[item.kind]}</span>
                    </td>
                    <td class="what">{describe(item)}</td>
                    <td>{item.sourceId ?? '—'}</td>
                    <td class="nowrap">
                      {item.pluginId ? (
                        <>
                          {item.pluginId}
                          <span class="muted">@{item.pluginVersion}</span>
                          {item.mode && item.mode !== 'live' && <Badge tone="muted">{item.mode}</Badge>}
                        </>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>{statusOf(item) ? <Badge>{statusOf(item)}</Badge> : '—'}</td>
                    <td class="num mono">
                      {item.kind === 'plugin_run' && item.action !== 'opened' ? fmt.ms(item.latencyMs) : ''}
                    </td>
                    <td>
                      {item.runId && (
                        <a class="row-link" href={href.run(item.runId)}>
                          Run story →
                        </a>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </>
  );
}

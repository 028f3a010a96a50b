import { api, CatchUp, Subscription } from '../api';
import { Badge, Empty, ErrorBox, fmt, Loading, Section, useAsync } from '../ui';

/** Events Aegle knows were sent but has not received or caught up yet. */
const gapOf = (s: Subscription) =>
  s.highestEventNumber !== null && s.contiguousThrough !== null
    ? s.highestEventNumber - s.contiguousThrough
    : null;

function Health({ s }: { s: Subscription }) {
  if (s.heartbeatOverdueSince) return <Badge tone="bad">heartbeat overdue</Badge>;
  const gap = gapOf(s);
  if (gap) return <Badge tone="warn">gap of {gap}</Badge>;
  if (s.status && !['active', 'requested'].includes(s.status)) return <Badge tone="warn">{s.status}</Badge>;
  return <Badge tone="ok">healthy</Badge>;
}

export function SubscriptionsPage() {
  const subs = useAsync(() => api.get<Subscription[]>('/api/admin/intake/subscriptions'), [], 10_000);
  const catchUps = useAsync(() => api.get<CatchUp[]>('/api/admin/intake/catch-ups?limit=20'), [], 10_000);
  return (
    <>
      <div class="page-head">
        <div>
          <h1>Subscriptions</h1>
          <p class="muted">
            What each EHR subscription has delivered: the last event, gaps in its numbering and its heartbeat.
            Gaps and silences are caught up automatically.
          </p>
        </div>
      </div>
      {subs.error !== undefined && <ErrorBox error={subs.error} />}
      <Section title="Subscriptions">
        {!subs.data ? (
          subs.error === undefined && <Loading what="subscriptions" />
        ) : subs.data.length === 0 ? (
          <Empty title="No subscription has been heard from yet.">
            Aegle lists a subscription once its EHR sends a notification, a handshake or a heartbeat.
          </Empty>
        ) : (
          <div class="table-wrap">
            <table class="data" data-testid="subscriptions">
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">Subscription</th>
                  <th scope="col">Health</th>
                  <th scope="col" class="num">
                    Last event #
                  </th>
                  <th scope="col" class="num">
                    Complete through
                  </th>
                  <th scope="col">Last notification</th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col">Status on the EHR</th>
                </tr>
              </thead>
              <tbody>
                {subs.data.map((s) => (
                  <tr key={`${s.sourceId}/${s.subscription}`}>
                    <td>{s.sourceId}</td>
                    <td class="mono">
                      {s.subscription === '*' ? (
                        <span title="a classic rest-hook without an id">(rest-hook)</span>
                      ) : (
                        s.subscription
                      )}
                      {s.topic && <div class="muted small">{s.topic}</div>}
                    </td>
                    <td>
                      <Health s={s} />
                    </td>
                    <td class="num mono">{s.highestEventNumber ?? '—'}</td>
                    <td class="num mono">{s.contiguousThrough ?? '—'}</td>
                    <td title={fmt.dateTime(s.lastNotificationAt)}>{fmt.ago(s.lastNotificationAt)}</td>
                    <td title={fmt.dateTime(s.lastHeartbeatAt)}>
                      {fmt.ago(s.lastHeartbeatAt)}
                      {s.heartbeatOverdueSince && (
                        <div class="bad small">overdue since {fmt.time(s.heartbeatOverdueSince)}</div>
                      )}
                    </td>
                    <td>{s.status ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section title="Recent catch-ups">
        {catchUps.error !== undefined ? (
          <ErrorBox error={catchUps.error} />
        ) : !catchUps.data ? (
          <Loading what="catch-ups" />
        ) : catchUps.data.length === 0 ? (
          <Empty title="No gaps, pings or silences so far." />
        ) : (
          <table class="data compact" data-testid="catch-ups">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Source</th>
                <th scope="col">Why</th>
                <th scope="col">Events</th>
                <th scope="col">How</th>
                <th scope="col" class="num">
                  Recovered
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {catchUps.data.map((c) => (
                <tr key={c.id}>
                  <td title={fmt.dateTime(c.createdAt)}>{fmt.ago(c.createdAt)}</td>
                  <td>{c.sourceId}</td>
                  <td>{c.reason}</td>
                  <td class="mono">{c.fromEvent !== null ? `${c.fromEvent}–${c.toEvent ?? ''}` : '—'}</td>
                  <td>{c.method ?? '—'}</td>
                  <td class="num">{c.recovered}</td>
                  <td>
                    <Badge tone={c.status === 'done' ? 'ok' : c.status === 'failed' ? 'bad' : 'info'}>
                      {c.status}
                    </Badge>
                    {c.error && <div class="muted small">{c.error}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

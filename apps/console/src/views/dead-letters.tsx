import { useState } from 'preact/hooks';
import { api, DeadLetter } from '../api';
import { href } from '../router';
import { Badge, Empty, ErrorBox, fmt, Loading, Section, useAsync } from '../ui';

const FILTERS = { open: 'Open', 'replaying,resolved': 'Replayed', 'open,replaying,resolved': 'All' } as const;
type Filter = keyof typeof FILTERS;

export function DeadLettersPage() {
  const [filter, setFilter] = useState<Filter>('open');
  const list = useAsync(
    () => api.get<DeadLetter[]>(`/api/dead-letters?status=${filter}&limit=500`),
    [filter],
    5000,
  );
  const [busy, setBusy] = useState<string>();
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<unknown>();

  const replay = async (letter: DeadLetter) => {
    setBusy(letter.id);
    setError(undefined);
    try {
      const result = await api.post<{ status: string }>(`/api/dead-letters/${letter.id}/replay`);
      setMessage(
        result.status === 'resolved'
          ? `The result of run ${letter.runId.slice(0, 8)} was already in the EHR: resolved.`
          : `Replay of run ${letter.runId.slice(0, 8)} queued. It leaves the open list once the EHR accepts it.`,
      );
      list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <div class="page-head">
        <div>
          <h1>Dead letters</h1>
          <p class="muted">
            Results the EHR refused, or that outlived their retries. A replay writes conditionally, so it
            never creates a second Observation.
          </p>
        </div>
        <div class="segmented" role="group" aria-label="Status">
          {(Object.keys(FILTERS) as Filter[]).map((f) => (
            <button type="button" key={f} aria-pressed={f === filter} onClick={() => setFilter(f)}>
              {FILTERS[f]}
            </button>
          ))}
        </div>
      </div>
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      {error !== undefined && <ErrorBox error={error} />}
      {list.error !== undefined && <ErrorBox error={list.error} />}
      <Section title={`${FILTERS[filter]} dead letters`}>
        {!list.data ? (
          list.error === undefined && <Loading what="dead letters" />
        ) : list.data.length === 0 ? (
          <Empty title={filter === 'open' ? 'No open dead letters.' : 'No dead letters.'}>
            Every result the EHR was sent has been accepted.
          </Empty>
        ) : (
          <div class="table-wrap">
            <table class="data" data-testid="dead-letters">
              <thead>
                <tr>
                  <th scope="col">Failed</th>
                  <th scope="col">Source</th>
                  <th scope="col">Plugin</th>
                  <th scope="col">HTTP</th>
                  <th scope="col">Why</th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((d) => (
                  <tr key={d.id} data-id={d.id}>
                    <td class="nowrap" title={fmt.dateTime(d.failedAt)}>
                      {fmt.ago(d.failedAt)}
                    </td>
                    <td>{d.sourceId}</td>
                    <td class="nowrap">
                      {d.pluginId}
                      <span class="muted">@{d.pluginVersion}</span>
                    </td>
                    <td>{d.httpStatus ?? '—'}</td>
                    <td class="what">
                      {d.reason}
                      {d.outcome?.issue?.[0]?.diagnostics && (
                        <div class="muted small">EHR: {d.outcome.issue[0].diagnostics}</div>
                      )}
                    </td>
                    <td class="num">{d.attempts}</td>
                    <td>
                      <Badge>{d.status}</Badge>
                      {d.replayCount > 0 && <span class="muted small"> ×{d.replayCount}</span>}
                    </td>
                    <td class="nowrap actions">
                      <a href={href.run(d.runId)}>Run story</a>
                      {d.status !== 'resolved' && (
                        <button
                          type="button"
                          class="primary small"
                          disabled={busy === d.id}
                          onClick={() => void replay(d)}
                          aria-label={`Replay the dead letter of run ${d.runId}`}
                        >
                          {busy === d.id ? 'Replaying…' : 'Replay'}
                        </button>
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

import { useMemo } from 'preact/hooks';
import { api, Finding, InputValue, RunStory } from '../api';
import { href } from '../router';
import { Badge, Empty, ErrorBox, fmt, KeyValues, Loading, Section, useAsync } from '../ui';

/** `#/results/Observation/<id>`: the demo's links name the Observation; its run tells the story. */
export function ResultPage({ observationId }: { observationId: string }) {
  const story = useAsync(
    () => api.get<{ run: { id: string } }>(`/api/observations/${encodeURIComponent(observationId)}/story`),
    [observationId],
  );
  if (story.error) return <ErrorBox error={story.error} />;
  if (!story.data) return <Loading what={`the story of Observation/${observationId}`} />;
  return <RunPage id={story.data.run.id} />;
}

export function RunPage({ id }: { id: string }) {
  const { data, error } = useAsync(
    () => api.get<RunStory>(`/api/console/runs/${encodeURIComponent(id)}`),
    [id],
  );
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading what="the run" />;
  const { run, event, notification, writeBacks, observation, deadLetter, timings, audit } = data;
  const findings = run.outputs?.findings ?? [];
  return (
    <article class="story" aria-labelledby="run-title">
      <div class="page-head">
        <div>
          <p class="crumbs">
            <a href={href.timeline}>Timeline</a> / Run
          </p>
          <h1 id="run-title">
            <a href={href.plugins(run.model.pluginId)}>{run.model.pluginId}</a>
            <span class="muted">@{run.model.pluginVersion}</span>
          </h1>
          <p class="muted mono">run {run.id}</p>
        </div>
        <div class="head-badges">
          <Badge>{run.outcome}</Badge>
          <Badge tone={run.mode === 'live' ? 'info' : 'muted'}>{run.mode}</Badge>
          <Badge tone={audit.intact ? 'ok' : 'bad'}>{audit.intact ? 'audit intact' : 'audit problem'}</Badge>
        </div>
      </div>

      <div class="result-banner" data-testid="result">
        {observation ? (
          <>
            <span class="result-label">Observation written</span>
            <strong class="mono" data-testid="observation-ref">
              {observation.reference}
            </strong>
            {findings.map((f) => (
              <span key={f.tensor} class="result-value" data-testid="output-value">
                {valueText(f)}
                {f.band?.text && <span class="muted"> · {f.band.text}</span>}
              </span>
            ))}
          </>
        ) : deadLetter ? (
          <>
            <span class="result-label">Not written: dead letter</span>
            <Badge>{deadLetter.status}</Badge>
            <span>
              {deadLetter.httpStatus ? `HTTP ${deadLetter.httpStatus} · ` : ''}
              {deadLetter.reason}
            </span>
            <a href={href.deadLetters}>Dead letters →</a>
          </>
        ) : run.outcome === 'succeeded' && run.mode === 'shadow' ? (
          <span class="result-label">Shadow run: audited, never written to the EHR</span>
        ) : (
          <span class="result-label">
            Nothing written{run.reason ? `: ${run.reason}` : run.outcome === 'pending' ? ' yet' : ''}
          </span>
        )}
      </div>

      <Section title="Timings">
        <Timings timings={timings} />
      </Section>

      <div class="grid-2">
        <Section title="Inputs">
          {data.inputsStored === 'hash' && (
            <p class="notice">
              Inputs are stored as keyed hashes (audit.storeInputs: hash): values are not kept, only their
              HMAC, unit and source.
            </p>
          )}
          <Inputs inputs={run.inputs} />
        </Section>
        <Section title="Outputs">
          {findings.length === 0 ? (
            <Empty title="No outputs.">{run.reason ?? 'The run produced no result.'}</Empty>
          ) : (
            <table class="data" data-testid="outputs">
              <thead>
                <tr>
                  <th scope="col">Code</th>
                  <th scope="col" class="num">
                    Value
                  </th>
                  <th scope="col">Interpretation</th>
                </tr>
              </thead>
              <tbody>
                {findings.map((f) => (
                  <tr key={f.tensor}>
                    <td>
                      <span class="mono">{f.code.code}</span> <span class="muted">{f.code.display}</span>
                    </td>
                    <td class="num mono">{valueText(f)}</td>
                    <td>{f.band?.text ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <KeyValues
            rows={[
              [
                'Model sha256',
                <span class="mono" title={run.model.modelSha256}>
                  {fmt.short(run.model.modelSha256, 16)}
                </span>,
              ],
              ['Execution provider', run.model.executionProvider],
              ['Patient', <span class="mono">{run.patientRef ?? '—'}</span>],
              [
                'Triggered by',
                run.triggeredBy ? <a href={href.run(run.triggeredBy)}>{run.triggeredBy}</a> : 'the event',
              ],
            ]}
          />
        </Section>
      </div>

      <Section title="Write-back attempts">
        {writeBacks.length === 0 ? (
          <Empty title="No write-back.">Only live and canary runs that succeed are written to the EHR.</Empty>
        ) : (
          <table class="data" data-testid="write-backs">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Attempt</th>
                <th scope="col">Resource</th>
                <th scope="col">Outcome</th>
                <th scope="col">HTTP</th>
                <th scope="col">EHR said</th>
              </tr>
            </thead>
            <tbody>
              {writeBacks.map((w) => (
                <tr key={w.id}>
                  <td class="mono nowrap">{fmt.time(w.createdAt)}</td>
                  <td>{w.attempt}</td>
                  <td class="mono">
                    {w.resourceType}
                    {w.resourceId ? `/${w.resourceId}` : ''}
                  </td>
                  <td>
                    <Badge>{w.outcome}</Badge>
                  </td>
                  <td>{w.httpStatus ?? '—'}</td>
                  <td>{w.response?.issue?.map((i) => i.diagnostics ?? i.code).join('; ') ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <div class="grid-2">
        <Section title="Notification and event">
          <KeyValues
            rows={[
              ['Received', fmt.dateTime(notification.receivedAt)],
              ['Shape', notification.shape],
              ['Content type', notification.contentType],
              ['Body', `${notification.bodyBytes} bytes · sha256 ${fmt.short(notification.bodySha256)}`],
              ['Answered', String(notification.httpStatus)],
              ['Event', `${event.interaction} ${event.focus}`],
              [
                'Subscription',
                event.subscription ? `${event.subscription} #${event.eventNumber ?? '?'}` : '—',
              ],
              ['Event status', <Badge>{event.status}</Badge>],
            ]}
          />
        </Section>
        <Section title="Audit chain">
          {audit.problems.length > 0 && (
            <div class="error" role="alert">
              {audit.problems.join('; ')}
            </div>
          )}
          <table class="data compact">
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">Record</th>
                <th scope="col">Action</th>
                <th scope="col">Entry hash</th>
              </tr>
            </thead>
            <tbody>
              {audit.entries.map((e) => (
                <tr key={e.seq}>
                  <td class="mono">{e.seq}</td>
                  <td>{e.recordType}</td>
                  <td>{e.action}</td>
                  <td class="mono" title={e.entryHash}>
                    {fmt.short(e.entryHash)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      </div>
    </article>
  );
}

/** A result as the EHR shows it: a probability at its bound keeps its comparator ("> 99.9 %"). */
function valueText(f: Finding): string {
  return `${f.comparator ? `${f.comparator} ` : ''}${f.value} ${f.unit}`;
}

function Inputs({ inputs }: { inputs: Record<string, InputValue> | null }) {
  const entries = Object.entries(inputs ?? {});
  if (entries.length === 0) return <Empty title="No inputs recorded." />;
  return (
    <table class="data" data-testid="inputs">
      <thead>
        <tr>
          <th scope="col">Input</th>
          <th scope="col" class="num">
            Value
          </th>
          <th scope="col">From</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([name, input]) => (
          <tr key={name}>
            <th scope="row">
              {input.label ?? name}
              {input.label && <span class="muted mono small"> {name}</span>}
            </th>
            <td class="num mono">
              {input.valueHmac ? (
                <span title={`HMAC-SHA256 ${input.valueHmac}`}>hmac {fmt.short(input.valueHmac, 10)}</span>
              ) : input.recorded === false || input.defaulted ? (
                // Nothing on file is not the same as a value recorded as "no": say which.
                <span
                  class="muted"
                  data-testid="not-recorded"
                  title={`the model was given ${String(input.value)}`}
                >
                  {input.display ?? 'not recorded'}
                </span>
              ) : (
                (input.display ?? `${String(input.value)}${input.unit ? ` ${input.unit}` : ''}`)
              )}
              {input.caveat && <div class="small muted">{input.caveat}</div>}
            </td>
            <td class="mono small">{input.source?.reference ?? '—'}</td>
          </tr>
        ))}
        {entries
          .filter(([, input]) => input.values)
          .map(([name, input]) => (
            <tr key={`${name}-image`}>
              <td colSpan={3}>
                <ModelImage name={name} values={input.values!} />
              </td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}

/**
 * An image input as the model saw it: the stored tensor drawn pixel for pixel (grey levels 0–255),
 * enlarged without smoothing. Only square single-channel images are drawn.
 */
function ModelImage({ name, values }: { name: string; values: number[] }) {
  const side = Math.round(Math.sqrt(values.length));
  const src = useMemo(() => {
    if (side * side !== values.length) return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = side;
    canvas.height = side;
    const context = canvas.getContext('2d');
    if (!context) return undefined;
    const pixels = context.createImageData(side, side);
    values.forEach((v, i) => {
      const grey = Math.max(0, Math.min(255, Math.round(v)));
      pixels.data.set([grey, grey, grey, 255], i * 4);
    });
    context.putImageData(pixels, 0, 0);
    return canvas.toDataURL('image/png');
  }, [values, side]);
  if (!src) return null;
  return (
    <figure class="model-image" data-testid="model-image">
      <img
        src={src}
        width={side * 6}
        height={side * 6}
        alt={`${name}: the ${side} × ${side} image the model read`}
      />
      <figcaption>
        {name}: the {side} × {side} image the model read, after decoding and preprocessing
      </figcaption>
    </figure>
  );
}

function Timings({ timings }: { timings: RunStory['timings'] }) {
  const parts: Array<[string, number | null, string]> = [
    ['Intake and queue', timings.queuedMs, 'seg-queue'],
    ['Run (inputs from the EHR, inference)', timings.runMs, 'seg-run'],
    ['Write-back', timings.writeBackMs, 'seg-write'],
  ];
  const total = parts.reduce((sum, [, ms]) => sum + Math.max(ms ?? 0, 0), 0) || 1;
  return (
    <div class="timings">
      <div class="timing-bar" role="img" aria-label="How the run's time was spent">
        {parts.map(([label, ms, cls]) =>
          ms && ms > 0 ? (
            <span
              key={label}
              class={cls}
              style={{ flexGrow: ms / total }}
              title={`${label}: ${fmt.ms(ms)}`}
            />
          ) : null,
        )}
      </div>
      <dl class="timing-legend">
        {parts.map(([label, ms, cls]) => (
          <div key={label}>
            <dt>
              <span class={`swatch ${cls}`} aria-hidden="true" /> {label}
            </dt>
            <dd class="mono">{fmt.ms(ms)}</dd>
          </div>
        ))}
        <div>
          <dt>Inference alone</dt>
          <dd class="mono">{fmt.ms(timings.inferenceMs)}</dd>
        </div>
        <div>
          <dt>
            <strong>Notification → result</strong>
          </dt>
          <dd class="mono">
            <strong>{fmt.ms(timings.totalMs)}</strong>
          </dd>
        </div>
      </dl>
    </div>
  );
}

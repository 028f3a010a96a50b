import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api, Stats } from '../api';
import { Empty, ErrorBox, fmt, Loading, Section, useAsync } from '../ui';

const WINDOWS = ['15m', '1h', '6h', '24h'] as const;
const COLORS = {
  events: '#2563eb',
  written: '#059669',
  dead: '#dc2626',
  p50: '#7c3aed',
  p95: '#db2777',
  e2e50: '#0891b2',
  e2e95: '#ea580c',
  succeeded: '#059669',
  skipped: '#d97706',
  failed: '#dc2626',
  pending: '#94a3b8',
};

/** A uPlot line chart that follows its container's width. */
function LineChart({
  title,
  data,
  series,
  unit,
}: {
  title: string;
  data: uPlot.AlignedData;
  series: Array<{ label: string; stroke: string; fill?: string }>;
  unit: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current!;
    const plot = new uPlot(
      {
        width: el.clientWidth || 600,
        height: 220,
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        scales: {
          x: { time: true },
          y: { range: (_u, min, max) => [0, Math.max(max ?? 1, min ?? 0, 1) * 1.1] },
        },
        axes: [
          { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#e2e8f0' } },
          {
            stroke: '#64748b',
            grid: { stroke: '#eef2f7' },
            ticks: { stroke: '#e2e8f0' },
            label: unit,
            size: 56,
          },
        ],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            fill: s.fill,
            width: 2,
            // Dots on the buckets with something in them: a lone busy bucket is not an invisible line.
            points: {
              show: true,
              size: 5,
              filter: (u: uPlot, seriesIdx: number) =>
                Array.from(u.data[seriesIdx] as ArrayLike<number | null>).flatMap((v, i) => (v ? [i] : [])),
            },
            spanGaps: false,
          })),
        ],
      },
      data,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data]);
  return <div class="chart" ref={host} role="img" aria-label={title} data-testid={`chart-${title}`} />;
}

/** Outcomes per plugin version as stacked horizontal bars (SVG, with the numbers beside them). */
function OutcomeBars({ plugins }: { plugins: Stats['plugins'] }) {
  if (plugins.length === 0) return <Empty title="No plugin runs in this window." />;
  const keys = ['succeeded', 'skipped', 'failed', 'pending'] as const;
  const max = Math.max(...plugins.map((p) => keys.reduce((s, k) => s + p[k], 0)), 1);
  const rowHeight = 34;
  return (
    <div class="bars">
      <svg
        viewBox={`0 0 640 ${plugins.length * rowHeight + 8}`}
        width="100%"
        role="img"
        aria-label="Outcomes per plugin"
        data-testid="chart-outcomes"
      >
        {plugins.map((p, row) => {
          let x = 230;
          return (
            <g key={`${p.pluginId}@${p.pluginVersion}`} transform={`translate(0 ${row * rowHeight + 4})`}>
              <text x="0" y="18" class="bar-label">
                {p.pluginId}@{p.pluginVersion}
              </text>
              {keys.map((k) => {
                const w = (p[k] / max) * 380;
                const rect =
                  w > 0 ? <rect key={k} x={x} y="4" width={w} height="20" rx="3" fill={COLORS[k]} /> : null;
                x += w;
                return rect;
              })}
              <text x={x + 6} y="18" class="bar-value">
                {keys.reduce((s, k) => s + p[k], 0)}
              </text>
            </g>
          );
        })}
      </svg>
      <ul class="legend">
        {keys.map((k) => (
          <li key={k}>
            <span class="swatch" style={{ background: COLORS[k] }} aria-hidden="true" /> {k}
          </li>
        ))}
      </ul>
      <table class="data compact">
        <caption class="visually-hidden">Outcomes and inference latency per plugin version</caption>
        <thead>
          <tr>
            <th scope="col">Plugin</th>
            {keys.map((k) => (
              <th scope="col" class="num" key={k}>
                {k}
              </th>
            ))}
            <th scope="col" class="num">
              p50
            </th>
            <th scope="col" class="num">
              p95
            </th>
          </tr>
        </thead>
        <tbody>
          {plugins.map((p) => (
            <tr key={`${p.pluginId}@${p.pluginVersion}`}>
              <th scope="row">
                {p.pluginId}
                <span class="muted">@{p.pluginVersion}</span>
              </th>
              {keys.map((k) => (
                <td class="num mono" key={k}>
                  {p[k]}
                </td>
              ))}
              <td class="num mono">{fmt.ms(p.inferenceP50)}</td>
              <td class="num mono">{fmt.ms(p.inferenceP95)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const col = (stats: Stats, pick: (b: Stats['buckets'][number]) => number | null) =>
  stats.buckets.map(pick) as Array<number | null>;

export function ChartsPage() {
  const [span, setSpan] = useState<(typeof WINDOWS)[number]>('15m');
  const { data, error } = useAsync(() => api.get<Stats>(`/api/console/stats?window=${span}`), [span], 15_000);
  const perMinute = data ? 60 / data.bucketSeconds : 1;
  const totals = data?.buckets.reduce(
    (t, b) => ({ events: t.events + b.events, written: t.written + b.written, dead: t.dead + b.deadLetters }),
    { events: 0, written: 0, dead: 0 },
  );
  return (
    <>
      <div class="page-head">
        <div>
          <h1>Charts</h1>
          <p class="muted">Throughput, latency and outcomes; refreshed every 15 s.</p>
        </div>
        <div class="segmented" role="group" aria-label="Time window">
          {WINDOWS.map((w) => (
            <button type="button" key={w} aria-pressed={w === span} onClick={() => setSpan(w)}>
              {w}
            </button>
          ))}
        </div>
      </div>
      {error !== undefined && <ErrorBox error={error} />}
      {!data ? (
        error === undefined && <Loading what="the figures" />
      ) : (
        <>
          <div class="tiles">
            <div class="tile">
              <span>Events</span>
              <strong data-testid="total-events">{totals!.events}</strong>
            </div>
            <div class="tile">
              <span>Results written</span>
              <strong>{totals!.written}</strong>
            </div>
            <div class="tile">
              <span>Dead letters</span>
              <strong class={totals!.dead ? 'bad' : ''}>{totals!.dead}</strong>
            </div>
            <div class="tile">
              <span>Inference p95 (window)</span>
              <strong>{fmt.ms(Math.max(...data.plugins.map((p) => p.inferenceP95 ?? 0), 0) || null)}</strong>
            </div>
          </div>
          <div class="grid-2">
            <Section title="Throughput (per minute)">
              <LineChart
                title="throughput"
                unit="per min"
                data={[
                  data.buckets.map((b) => b.t),
                  col(data, (b) => b.events * perMinute),
                  col(data, (b) => b.written * perMinute),
                  col(data, (b) => b.deadLetters * perMinute),
                ]}
                series={[
                  { label: 'events', stroke: COLORS.events, fill: 'rgba(37,99,235,.08)' },
                  { label: 'results written', stroke: COLORS.written },
                  { label: 'dead letters', stroke: COLORS.dead },
                ]}
              />
            </Section>
            <Section title="Latency">
              <LineChart
                title="latency"
                unit="ms"
                data={[
                  data.buckets.map((b) => b.t),
                  col(data, (b) => b.inferenceP50),
                  col(data, (b) => b.inferenceP95),
                  col(data, (b) => b.endToEndP50),
                  col(data, (b) => b.endToEndP95),
                ]}
                series={[
                  { label: 'inference p50', stroke: COLORS.p50 },
                  { label: 'inference p95', stroke: COLORS.p95 },
                  { label: 'notification → result p50', stroke: COLORS.e2e50 },
                  { label: 'notification → result p95', stroke: COLORS.e2e95 },
                ]}
              />
            </Section>
          </div>
          <Section title="Outcomes per plugin">
            <OutcomeBars plugins={data.plugins} />
          </Section>
        </>
      )}
    </>
  );
}

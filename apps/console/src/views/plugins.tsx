import { useMemo } from 'preact/hooks';
import { api, PluginsView, PluginVersion } from '../api';
import { renderMarkdown } from '../markdown';
import { href } from '../router';
import { Badge, Empty, ErrorBox, fmt, KeyValues, Loading, Section, useAsync } from '../ui';

function RolloutBadge({ rollout }: { rollout: PluginVersion['rollout'] }) {
  if (rollout.mode === 'canary') return <Badge tone="info">canary {rollout.percent}%</Badge>;
  return <Badge>{rollout.mode}</Badge>;
}

function ModelCard({ plugin }: { plugin: PluginVersion }) {
  const html = useMemo(() => (plugin.modelCard ? renderMarkdown(plugin.modelCard) : ''), [plugin.modelCard]);
  if (plugin.modelCardUrl)
    return (
      <p>
        Model card:{' '}
        <a href={plugin.modelCardUrl} target="_blank" rel="noopener noreferrer">
          {plugin.modelCardUrl}
        </a>
      </p>
    );
  if (!plugin.modelCard) return <Empty title="No model card found." />;
  // Sanitised by renderMarkdown (DOMPurify) before it reaches the page.
  return <div class="markdown" data-testid="model-card" dangerouslySetInnerHTML={{ __html: html }} />;
}

function PluginCard({ plugin, open }: { plugin: PluginVersion; open: boolean }) {
  return (
    <section class="panel plugin" aria-label={`${plugin.id} ${plugin.version}`} data-testid="plugin">
      <header class="plugin-head">
        <div>
          <h2>
            {plugin.title} <span class="muted">v{plugin.version}</span>
          </h2>
          <p class="mono muted">
            {plugin.id}@{plugin.version}
          </p>
          {plugin.description && <p>{plugin.description}</p>}
        </div>
        <div class="head-badges">
          <RolloutBadge rollout={plugin.rollout} />
          <Badge tone="muted">{plugin.kind}</Badge>
          <Badge tone="info">{plugin.provider}</Badge>
        </div>
      </header>
      <KeyValues
        rows={[
          ['Publisher', plugin.publisher],
          ['Execution', `${plugin.execution ?? 'cpu'} (running on ${plugin.provider})`],
          [
            'Model sha256',
            <span class="mono" title={plugin.modelSha256}>
              {fmt.short(plugin.modelSha256, 20)}
            </span>,
          ],
          ['Limits', `timeout ${fmt.ms(plugin.timeoutMs)} · ${plugin.maxConcurrency} at once`],
          [
            'Inputs',
            plugin.inputs
              .map((i) => `${i.label ?? i.name}${i.unit ? ` (${i.unit})` : ''}${i.required ? '' : '?'}`)
              .join(', '),
          ],
        ]}
      />
      <details open={open}>
        <summary>Model card</summary>
        <ModelCard plugin={plugin} />
      </details>
    </section>
  );
}

export function PluginsPage({ focus }: { focus?: string }) {
  const { data, error } = useAsync(() => api.get<PluginsView>('/api/console/plugins'));
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading what="the plugins" />;
  const shown = focus ? data.plugins.filter((p) => p.id === focus) : data.plugins;
  return (
    <>
      <div class="page-head">
        <div>
          <p class="crumbs">{focus && <a href={href.plugins()}>All plugins</a>}</p>
          <h1>Plugins</h1>
          <p class="muted">
            Loaded versions, how each rolls out (live and canary results are written; shadow ones only
            audited), and their model cards.
          </p>
        </div>
      </div>
      {data.rejected.length > 0 && (
        <Section title="Rejected at load">
          <ul class="problems">
            {data.rejected.map((r) => (
              <li key={r.dir}>
                <strong>{r.plugin ?? r.dir}</strong>: {r.problems.join('; ')}
              </li>
            ))}
          </ul>
        </Section>
      )}
      {shown.length === 0 ? (
        <Empty title="No plugin is loaded.">Add plugin folders under plugins.dirs and reload.</Empty>
      ) : (
        shown.map((p) => (
          <PluginCard key={`${p.id}@${p.version}`} plugin={p} open={!!focus || shown.length === 1} />
        ))
      )}
    </>
  );
}

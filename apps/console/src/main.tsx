import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { api, ApiError, session, whenUnauthorized } from './api';
import { href, Route, useRoute } from './router';
import { ChartsPage } from './views/charts';
import { DeadLettersPage } from './views/dead-letters';
import { PluginsPage } from './views/plugins';
import { ResultPage, RunPage } from './views/run';
import { SubscriptionsPage } from './views/subscriptions';
import { TimelinePage } from './views/timeline';

function Login({ notice, onSignedIn }: { notice?: string; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.check(token.trim());
      session.signIn(token.trim());
      onSignedIn();
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? `Aegle refused this token (${err.message}). Use the value of AEGLE_ADMIN_TOKEN.`
          : err instanceof Error
            ? err.message
            : String(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div class="brand brand-large" aria-hidden="true">
          <Logo /> Aegle
        </div>
        <h1 id="login-title">Admin console</h1>
        <p class="muted">
          Sign in with the admin token (AEGLE_ADMIN_TOKEN). It is kept for this browser tab only.
        </p>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <label for="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        {error && (
          <p class="error" role="alert" id="login-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || !token.trim()}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function Logo() {
  return (
    <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
      <path d="M12 2 3 6v6c0 5 3.8 9.3 9 10 5.2-.7 9-5 9-10V6l-9-4Z" fill="currentColor" opacity=".9" />
      <path
        d="M7 12.5h3l1.5-3 2 6 1.5-3H17"
        fill="none"
        stroke="#fff"
        stroke-width="1.6"
        stroke-linejoin="round"
      />
    </svg>
  );
}

const NAV: Array<{ label: string; href: string; pages: Route['page'][] }> = [
  { label: 'Timeline', href: href.timeline, pages: ['timeline', 'run', 'result'] },
  { label: 'Charts', href: href.charts, pages: ['charts'] },
  { label: 'Plugins', href: href.plugins(), pages: ['plugins'] },
  { label: 'Dead letters', href: href.deadLetters, pages: ['dead-letters'] },
  { label: 'Subscriptions', href: href.subscriptions, pages: ['subscriptions'] },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'timeline':
      return <TimelinePage />;
    case 'run':
      return <RunPage id={route.id} />;
    case 'result':
      return <ResultPage observationId={route.observationId} />;
    case 'charts':
      return <ChartsPage />;
    case 'plugins':
      return <PluginsPage focus={route.focus} />;
    case 'dead-letters':
      return <DeadLettersPage />;
    case 'subscriptions':
      return <SubscriptionsPage />;
  }
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => !!session.token());
  const [notice, setNotice] = useState<string>();
  useEffect(
    () =>
      whenUnauthorized((message) => {
        session.signOut();
        setNotice(`Aegle no longer accepts the token you signed in with (${message}). Sign in again.`);
        setSignedIn(false);
      }),
    [],
  );
  if (!signedIn)
    return <Login notice={notice} onSignedIn={() => (setNotice(undefined), setSignedIn(true))} />;
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href={href.timeline}>
          <Logo /> Aegle <span class="brand-sub">Admin console</span>
        </a>
        <nav aria-label="Sections">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={item.pages.includes(route.page) ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="ghost"
          onClick={() => {
            session.signOut();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main class="content" id="main">
        <Page route={route} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);

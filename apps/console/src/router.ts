import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routes (`/console#/runs/<id>`): deep links work from anywhere (the demo prints them) and the
 * server never sees the path, so every link is served the same page.
 */
export type Route =
  | { page: 'timeline' }
  | { page: 'run'; id: string }
  | { page: 'result'; observationId: string }
  | { page: 'charts' }
  | { page: 'plugins'; focus?: string }
  | { page: 'dead-letters' }
  | { page: 'subscriptions' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'runs':
      return parts[1] ? { page: 'run', id: parts[1] } : { page: 'timeline' };
    case 'results':
      return parts[1] === 'Observation' && parts[2]
        ? { page: 'result', observationId: parts[2] }
        : { page: 'timeline' };
    case 'charts':
      return { page: 'charts' };
    case 'plugins':
      return { page: 'plugins', focus: parts[1] };
    case 'dead-letters':
      return { page: 'dead-letters' };
    case 'subscriptions':
      return { page: 'subscriptions' };
    default:
      return { page: 'timeline' };
  }
}

export const href = {
  timeline: '#/timeline',
  run: (id: string) => `#/runs/${encodeURIComponent(id)}`,
  charts: '#/charts',
  plugins: (id?: string) => (id ? `#/plugins/${encodeURIComponent(id)}` : '#/plugins'),
  deadLetters: '#/dead-letters',
  subscriptions: '#/subscriptions',
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

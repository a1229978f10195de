// A small router on the history API: the current route as a store, links that do not reload.

import { parseRoute, type Route } from './routes.js';
import { createStore } from './store.js';

const read = (): Route => parseRoute(location.pathname, location.search);

export const route = createStore<Route>(read());

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route.set(read());
  window.scrollTo(0, 0);
}

addEventListener('popstate', () => route.set(read()));

/** Where the person is now, to come back to after logging in. */
export function here(): string {
  return location.pathname + location.search;
}

// The app's pages and their paths (the history API; the onboarding token rides in the fragment). Pure.

export type Route =
  | { page: 'dashboard' }
  | { page: 'login'; next: string }
  | { page: 'onboarding' }
  | { page: 'device'; id: string }
  | { page: 'add-device' }
  | { page: 'history'; id: string; range: string | null }
  | { page: 'ble' }
  | { page: 'cluster' }
  | { page: 'updates' }
  | { page: 'users' }
  | { page: 'audit' }
  | { page: 'not-found'; path: string };

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** A same-origin path worth returning to after logging in (never another site, never the login page itself). */
export function safeNext(next: string | null | undefined): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next.startsWith('/login') || next.startsWith('/onboarding')) return '/';
  return next;
}

export function parseRoute(pathname: string, search = ''): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  switch (path) {
    case '/':
    case '/devices':
      return { page: 'dashboard' };
    case '/login':
      return { page: 'login', next: safeNext(new URLSearchParams(search).get('next')) };
    case '/onboarding':
      return { page: 'onboarding' };
    case '/devices/new':
      return { page: 'add-device' };
    case '/ble':
      return { page: 'ble' };
    case '/cluster':
      return { page: 'cluster' };
    case '/updates':
      return { page: 'updates' };
    case '/users':
      return { page: 'users' };
    case '/audit':
      return { page: 'audit' };
  }
  let m = /^\/devices\/([^/]+)$/.exec(path);
  if (m) {
    const id = decode(m[1]!);
    if (id) return { page: 'device', id };
  }
  m = /^\/entities\/([^/]+)\/history$/.exec(path);
  if (m) {
    const id = decode(m[1]!);
    if (id) return { page: 'history', id, range: new URLSearchParams(search).get('range') };
  }
  return { page: 'not-found', path };
}

export const paths = {
  dashboard: () => '/',
  login: (next?: string) =>
    next && safeNext(next) !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login',
  device: (id: string) => `/devices/${encodeURIComponent(id)}`,
  addDevice: () => '/devices/new',
  history: (id: string, range?: string) =>
    `/entities/${encodeURIComponent(id)}/history${range ? `?range=${encodeURIComponent(range)}` : ''}`,
  ble: () => '/ble',
  cluster: () => '/cluster',
  updates: () => '/updates',
  users: () => '/users',
  audit: () => '/audit',
};

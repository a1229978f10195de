// The app's state: who is logged in, the live store, and the moves between them.

import { del, get, onUnauthenticated } from './api.js';
import { connectLive, type Live } from './live.js';
import { here, navigate, route } from './router.js';
import { paths } from './routes.js';
import { createStore, initialState, type LiveState } from './store.js';
import type { Session } from './types.js';

/** undefined while asking the gateway, null when nobody is logged in */
export const session = createStore<Session | null | undefined>(undefined);
export const live = createStore<LiveState>(initialState);

let feed: Live | undefined;

const PUBLIC_PAGES = new Set(['login', 'onboarding']);

function startFeed(): void {
  feed?.stop();
  live.set(initialState);
  feed = connectLive(live, () => leave());
}

/** The session ended (401 anywhere, a revoked socket): to the login page, coming back here afterwards. */
function leave(): void {
  feed?.stop();
  feed = undefined;
  session.set(null);
  const current = route.get();
  if (!PUBLIC_PAGES.has(current.page)) navigate(paths.login(here()), { replace: true });
}

/** After logging in or onboarding. */
export function signedIn(s: Session, next: string): void {
  session.set(s);
  startFeed();
  navigate(next, { replace: true });
}

export async function logout(): Promise<void> {
  try {
    await del('/api/session');
  } finally {
    feed?.stop();
    feed = undefined;
    session.set(null);
    live.set(initialState);
    navigate(paths.login());
  }
}

export async function boot(): Promise<void> {
  onUnauthenticated(leave);
  if (PUBLIC_PAGES.has(route.get().page)) {
    session.set(null);
    return;
  }
  try {
    const s = await get<Session>('/api/session');
    session.set(s);
    startFeed();
  } catch {
    // a 401 has already gone to the login page; the gateway not answering leaves the page to say so
    if (session.get() === undefined) session.set(null);
  }
}

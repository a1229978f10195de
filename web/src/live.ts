// The live feed (GET /api/live): one WebSocket folded into the store, reconnecting with
// backoff; the last values stay on screen meanwhile, and the next snapshot replaces them.

import { get } from './api.js';
import { backoff } from './backoff.js';
import { apply, type LiveState, type Store } from './store.js';
import type { LiveMessage } from './types.js';

/** the close code of a revoked session or token */
const REVOKED = 4401;

export interface Live {
  stop(): void;
}

export function connectLive(store: Store<LiveState>, onRevoked: () => void): Live {
  let socket: WebSocket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let stopped = false;

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/live`;

  function open(): void {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onmessage = (event) => {
      let message: LiveMessage;
      try {
        message = JSON.parse(String(event.data)) as LiveMessage;
      } catch {
        return;
      }
      if (message.type === 'snapshot') attempt = 0;
      store.update((s) => apply(s, message));
    };
    ws.onclose = (event) => {
      if (stopped || socket !== ws) return;
      socket = undefined;
      if (event.code === REVOKED) return onRevoked();
      store.update((s) => (s.connection === 'reconnecting' ? s : { ...s, connection: 'reconnecting' }));
      // a refused upgrade looks like any dropped connection: ask whether the session is still good
      // (a 401 there sends the person to the login page)
      get('/api/session').catch(() => {});
      timer = setTimeout(open, backoff(attempt++));
    };
  }

  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000);
      socket = undefined;
    },
  };
}

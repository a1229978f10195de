// The WebSocket home-assistant-js-websocket talks through. The library expects a
// browser's global WebSocket; on Node 20 we hand it a `ws` socket instead, doing the
// auth phase ourselves (auth_required → auth → auth_ok | auth_invalid) as its own
// createSocket does, so we can keep the reason Home Assistant gave for a refusal.
import {
  type ConnectionOptions,
  ERR_CANNOT_CONNECT,
  ERR_INVALID_AUTH,
  type HaWebSocket,
} from 'home-assistant-js-websocket';
import WebSocket from 'ws';
import { z } from 'zod';

const AuthPhaseSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('auth_required') }),
  z.looseObject({ type: z.literal('auth_ok'), ha_version: z.string() }),
  z.looseObject({ type: z.literal('auth_invalid'), message: z.string().optional() }),
]);

export interface SocketEvents {
  /** Home Assistant refused the token, with its message */
  authInvalid(message: string): void;
  /** the socket failed before auth_ok (refused, closed, timed out) */
  cannotConnect(message: string): void;
}

export function wsSocketFactory(events: SocketEvents, connectTimeoutMs = 10_000) {
  return (options: ConnectionOptions): Promise<HaWebSocket> =>
    new Promise((resolve, reject) => {
      const auth = options.auth;
      if (!auth) {
        reject(ERR_CANNOT_CONNECT);
        return;
      }
      const ws = new WebSocket(auth.wsUrl, { handshakeTimeout: connectTimeoutMs });
      // the library listens for close, not error: without a listener an error would throw
      ws.on('error', () => undefined);
      let settled = false;
      const timer = setTimeout(() => fail('no auth_ok in time'), connectTimeoutMs);
      const fail = (message: string, code: number = ERR_CANNOT_CONNECT) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.off('message', onMessage);
        if (code === ERR_INVALID_AUTH) events.authInvalid(message);
        else events.cannotConnect(message);
        ws.terminate();
        reject(code);
      };
      const onMessage = (data: WebSocket.RawData) => {
        let parsed: ReturnType<typeof AuthPhaseSchema.safeParse>;
        try {
          parsed = AuthPhaseSchema.safeParse(JSON.parse(data.toString()));
        } catch {
          return fail('Home Assistant sent something other than JSON');
        }
        if (!parsed.success)
          return fail(`unexpected message in the auth phase: ${parsed.error.issues[0]!.message}`);
        const message = parsed.data;
        if (message.type === 'auth_required') {
          ws.send(JSON.stringify({ type: 'auth', access_token: auth.accessToken }));
        } else if (message.type === 'auth_invalid') {
          fail(message.message ?? 'auth_invalid', ERR_INVALID_AUTH);
        } else {
          settled = true;
          clearTimeout(timer);
          ws.off('message', onMessage);
          ws.off('close', onClose);
          const socket = ws as unknown as HaWebSocket;
          socket.haVersion = message.ha_version;
          // message id 1, as the library sends it: coalesced messages arrive as arrays, which it reads
          ws.send(JSON.stringify({ type: 'supported_features', id: 1, features: { coalesce_messages: 1 } }));
          resolve(socket);
        }
      };
      const onClose = () => fail('the connection closed during the auth phase');
      ws.on('message', onMessage);
      ws.on('close', onClose);
      ws.on('unexpected-response', (_request, response) =>
        fail(`HTTP ${response.statusCode} on the WebSocket upgrade`),
      );
    });
}

// Picket over the gateway's WebSocket endpoint (CONTRACT.md §4): one JSON object
// per text frame, `Authorization: Bearer <id>:<token>` on the upgrade, and a
// closed socket means offline. The gateway confirms stored states with `ack`.
import type { Hello, State } from '@sentinel/firmware';
import WebSocket from 'ws';
import { parseGatewayFrame } from './gateway-frames.js';
import {
  ConnectFailure,
  type DeviceProblem,
  type LinkHandlers,
  type PicketLink,
  type PicketTransport,
  type QoS,
  type TransportCredentials,
  type TransportTuning,
  tuned,
} from './transport.js';

export interface PicketWsTransportOptions extends TransportCredentials, TransportTuning {
  /** ws://host:port/picket */
  url: string;
  /** 1: keep states until the gateway acks them; 0: fire and forget */
  qos: QoS;
}

export function picketWsTransport(options: PicketWsTransportOptions): PicketTransport {
  const { url, id, token, qos } = options;
  const { connectTimeoutMs, keepaliveSeconds, closeTimeoutMs } = tuned(options);

  function open(signal: AbortSignal): Promise<WebSocket> {
    const socket = new WebSocket(url, {
      headers: { Authorization: `Bearer ${id}:${token}` },
      handshakeTimeout: connectTimeoutMs,
    });
    return new Promise<WebSocket>((resolve, reject) => {
      let refusal: DeviceProblem | undefined;
      const settle = (error?: ConnectFailure) => {
        socket
          .off('open', onOpen)
          .off('error', onError)
          .off('close', onClose)
          .off('unexpected-response', onResponse);
        signal.removeEventListener('abort', onAbort);
        if (error) {
          // a late error from the discarded socket must not crash the process
          socket.on('error', () => {});
          socket.terminate();
          reject(error);
        } else resolve(socket);
      };
      const onOpen = () => settle();
      const onResponse = (_request: unknown, response: { statusCode?: number; statusMessage?: string }) => {
        const status = `HTTP ${response.statusCode ?? '?'} ${response.statusMessage ?? ''}`.trim();
        refusal =
          response.statusCode === 401 || response.statusCode === 403
            ? { code: 'refused', message: `${url} answered ${status}` }
            : { code: 'unreachable', message: `${url}: not a picket endpoint (${status})` };
        settle(new ConnectFailure(refusal));
      };
      const onError = (error: Error) =>
        settle(
          new ConnectFailure(refusal ?? { code: 'unreachable', message: error.message }, { cause: error }),
        );
      const onClose = () =>
        settle(
          new ConnectFailure(
            refusal ?? { code: 'unreachable', message: `${url}: closed during the handshake` },
          ),
        );
      const onAbort = () =>
        settle(new ConnectFailure({ code: 'unreachable', message: 'connection attempt abandoned' }));
      socket
        .on('open', onOpen)
        .on('error', onError)
        .on('close', onClose)
        .on('unexpected-response', onResponse);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Pings on a timer and drops a connection whose peer stopped answering (a half-open TCP link). */
  function keepAlive(socket: WebSocket): () => void {
    if (keepaliveSeconds <= 0) return () => {};
    let answered = true;
    socket.on('pong', () => {
      answered = true;
    });
    const timer = setInterval(() => {
      if (!answered) {
        socket.terminate();
        return;
      }
      answered = false;
      socket.ping();
    }, keepaliveSeconds * 1000);
    return () => clearInterval(timer);
  }

  return {
    target: url,
    confirmsStates: qos === 1,
    async connect(handlers: LinkHandlers, signal: AbortSignal) {
      const socket = await open(signal);
      let closing = false;
      let lastError: string | undefined;
      const stopKeepAlive = keepAlive(socket);
      const send = (frame: object) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
      };

      socket.on('error', (error) => {
        lastError = error.message;
      });
      socket.on('close', (code, reason) => {
        stopKeepAlive();
        if (closing) return;
        closing = true;
        const why = reason.length > 0 ? `${code} ${reason.toString('utf8')}` : String(code);
        handlers.onClose(lastError ? `${lastError} (${why})` : `closed by the gateway (${why})`);
      });
      socket.on('message', (data, isBinary) => {
        if (isBinary) {
          handlers.onProblem({ code: 'bad_frame', message: 'binary frame from the gateway' });
          return;
        }
        const decoded = parseGatewayFrame(rawText(data));
        if (!decoded.ok) {
          handlers.onProblem({ code: 'bad_frame', message: `frame from the gateway: ${decoded.error}` });
          return;
        }
        const frame = decoded.value;
        switch (frame.type) {
          case 'cmd': {
            const { type: _type, ...command } = frame;
            handlers.onCommand(command);
            break;
          }
          case 'ack':
            handlers.onAck(frame.seq);
            break;
          case 'error':
            handlers.onProblem({ code: 'gateway_error', reason: frame.reason, message: frame.message });
            break;
          case 'ota': {
            const { type: _type, ...message } = frame;
            handlers.onOta?.(message);
            break;
          }
        }
      });

      const link: PicketLink = {
        sendHello: (hello: Hello) => send({ type: 'hello', ...hello }),
        sendState: (state: State) => send({ type: 'state', ...state }),
        sendResult: (result) => send({ type: 'cmd_result', ...result }),
        sendOtaProgress: (progress) => send({ type: 'ota_progress', ...progress }),
        async close() {
          if (closing) return;
          closing = true;
          stopKeepAlive();
          if (socket.readyState === WebSocket.CLOSED) return;
          const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
          socket.close(1000, 'going offline');
          const timer = setTimeout(() => socket.terminate(), closeTimeoutMs);
          await closed;
          clearTimeout(timer);
        },
      };
      return link;
    },
  };
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

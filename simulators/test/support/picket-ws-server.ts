// The gateway's side of the picket WebSocket (CONTRACT.md §4), just enough for
// tests: a real `ws` server on 127.0.0.1 with an ephemeral port that checks
// `Authorization: Bearer <id>:<token>`, validates every frame with
// DeviceFrameSchema, can ack states and send commands, and restarts on the same port.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type DeviceFrame, DeviceFrameSchema, type GatewayFrame } from '@sentinel/firmware';
import { type WebSocket, WebSocketServer } from 'ws';
import { Observed } from './wait.js';

export interface FrameRecord {
  id: string;
  /** the parsed frame, or undefined when it failed DeviceFrameSchema */
  frame: DeviceFrame | undefined;
  raw: string;
}

export interface UpgradeRecord {
  authorization: string | undefined;
  accepted: boolean;
}

export interface PicketWsServerOptions {
  tokens: ReadonlyMap<string, string>;
  /** ack every valid state frame at once (default true) */
  autoAck?: boolean;
}

export interface TestPicketWsServer {
  readonly url: string;
  readonly frames: Observed<FrameRecord>;
  readonly upgrades: Observed<UpgradeRecord>;
  readonly opened: Observed<string>;
  readonly closed: Observed<string>;
  autoAck: boolean;
  send(id: string, frame: GatewayFrame | Record<string, unknown>): void;
  /** drops the device's socket without a close handshake, as a crashed gateway would */
  drop(id: string): void;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startPicketWsServer(options: PicketWsServerOptions): Promise<TestPicketWsServer> {
  const frames = new Observed<FrameRecord>();
  const upgrades = new Observed<UpgradeRecord>();
  const opened = new Observed<string>();
  const closed = new Observed<string>();
  let sockets = new Map<string, WebSocket>();

  let autoAck = options.autoAck ?? true;

  function authenticate(authorization: string | undefined): string | undefined {
    const match = /^Bearer ([^:]+):(.+)$/.exec(authorization ?? '');
    if (!match) return undefined;
    const [, id, token] = match;
    return options.tokens.get(id!) === token ? id : undefined;
  }

  async function start(
    listenPort: number,
  ): Promise<{ http: Server; wss: WebSocketServer; raw: Set<Socket> }> {
    const http = createServer();
    const wss = new WebSocketServer({ noServer: true });
    const raw = new Set<Socket>();
    sockets = new Map();
    http.on('connection', (socket) => {
      raw.add(socket);
      socket.on('close', () => raw.delete(socket));
    });
    http.on('upgrade', (request, socket, head) => {
      const authorization = request.headers.authorization;
      const id = request.url === '/picket' ? authenticate(authorization) : undefined;
      upgrades.push({ authorization, accepted: id !== undefined });
      if (id === undefined) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => accept(id, ws));
    });
    http.listen(listenPort, '127.0.0.1');
    await once(http, 'listening');
    return { http, wss, raw };
  }

  function accept(id: string, ws: WebSocket): void {
    sockets.get(id)?.terminate();
    sockets.set(id, ws);
    ws.on('message', (data) => {
      const raw = data.toString();
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        json = undefined;
      }
      const parsed = DeviceFrameSchema.safeParse(json);
      const frame = parsed.success ? parsed.data : undefined;
      if (frame?.type === 'state' && autoAck) ws.send(JSON.stringify({ type: 'ack', seq: frame.seq }));
      frames.push({ id, frame, raw });
    });
    ws.on('close', () => {
      if (sockets.get(id) === ws) sockets.delete(id);
      closed.push(id);
    });
    opened.push(id);
  }

  async function stop(current: { http: Server; wss: WebSocketServer; raw: Set<Socket> }): Promise<void> {
    for (const ws of current.wss.clients) ws.terminate();
    for (const socket of current.raw) socket.destroy();
    current.wss.close();
    await new Promise<void>((resolve) => current.http.close(() => resolve()));
  }

  let running = await start(0);
  const port = (running.http.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/picket`,
    frames,
    upgrades,
    opened,
    closed,
    get autoAck() {
      return autoAck;
    },
    set autoAck(value) {
      autoAck = value;
    },
    send(id, frame) {
      sockets.get(id)?.send(JSON.stringify(frame));
    },
    drop(id) {
      sockets.get(id)?.terminate();
    },
    async restart() {
      await stop(running);
      running = await start(port);
    },
    close: () => stop(running),
  };
}

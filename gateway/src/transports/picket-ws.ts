// The picket WebSocket endpoint (`/picket`, CONTRACT.md §4): one JSON object per
// frame. Authentication happens on the upgrade request, so an unknown device never
// gets a socket. Frames of one connection are handled in order; when the device
// sends faster than they are stored, the socket is paused (TCP backpressure)
// rather than buffering without bound.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Command, type GatewayFrame, type OtaMessage, PicketIdSchema } from '@sentinel/firmware';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { CredentialVerifier } from '../auth/credentials.js';
import { picketDeviceId } from '../bus/names.js';
import type { Logger } from '../log.js';
import type { Metrics, RejectReason } from '../metrics.js';
import type { PicketAdapter } from '../picket/adapter.js';
import type { PicketSession } from '../picket/session.js';

/** Frames queued per connection before the socket is paused. */
const HIGH_WATER = 32;
/** Beyond this a frame is not even read (the adapter's own, smaller limit drops it politely). */
const HARD_FRAME_LIMIT = 1024 * 1024;

export interface PicketWsOptions {
  adapter: PicketAdapter;
  verifier: CredentialVerifier;
  metrics: Metrics;
  log: Logger;
}

class WsSession implements PicketSession {
  readonly transport = 'ws';
  readonly deviceId: string;
  ended = false;

  constructor(
    readonly picketId: string,
    private readonly socket: WebSocket,
    readonly localAddress: string | undefined,
  ) {
    this.deviceId = picketDeviceId(picketId);
  }

  send(frame: GatewayFrame): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  deliverCommand(command: Command): boolean {
    this.send({ type: 'cmd', ...command });
    return this.socket.readyState === this.socket.OPEN;
  }

  deliverOta(message: OtaMessage): boolean {
    this.send({ type: 'ota', ...message });
    return this.socket.readyState === this.socket.OPEN;
  }

  reportRejected(reason: RejectReason, message: string, seq?: number): void {
    this.send({ type: 'error', reason, message, ...(seq === undefined ? {} : { seq }) });
  }

  close(reason: string): void {
    this.socket.close(4000, reason.slice(0, 120));
  }

  end(): void {
    this.ended = true;
  }
}

/** `Authorization: Bearer <id>:<token>` → the picket id, when the token is right. */
async function authenticate(req: IncomingMessage, verifier: CredentialVerifier): Promise<string | undefined> {
  const match = /^Bearer ([^:\s]+):(\S+)$/.exec(req.headers.authorization ?? '');
  if (!match) return undefined;
  const id = PicketIdSchema.safeParse(match[1]);
  if (!id.success || !(await verifier.verify(id.data, match[2]))) return undefined;
  return id.data;
}

export function createPicketWsEndpoint(o: PicketWsOptions) {
  const server = new WebSocketServer({ noServer: true, maxPayload: HARD_FRAME_LIMIT });

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const picketId = await authenticate(req, o.verifier).catch(() => undefined);
    if (!picketId) {
      o.metrics.authFailures.inc({ transport: 'ws' });
      o.log.warn(
        { remote: req.socket.remoteAddress },
        'WebSocket device refused: missing, unknown or wrong credentials',
      );
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    server.handleUpgrade(req, socket, head, (ws) => serve(picketId, ws, req.socket.localAddress));
  }

  function serve(picketId: string, ws: WebSocket, localAddress: string | undefined): void {
    const session = new WsSession(picketId, ws, localAddress);
    o.metrics.connections.inc({ transport: 'ws' });
    const queue: RawData[] = [];
    let pumping = false;
    let opened = o.adapter
      .open(session)
      .catch((error) => o.log.error({ err: error, device: picketId }, 'marking device online failed'));

    const pump = async () => {
      if (pumping) return;
      pumping = true;
      await opened;
      while (queue.length > 0) {
        await handleFrame(session, queue.shift()!);
        if (queue.length < HIGH_WATER / 2 && ws.isPaused) ws.resume();
      }
      pumping = false;
    };

    ws.on('message', (data) => {
      queue.push(data);
      if (queue.length >= HIGH_WATER) ws.pause();
      void pump();
    });
    ws.on('error', (error) => o.log.debug({ device: picketId, err: error.message }, 'WebSocket error'));
    ws.once('close', () => {
      session.end();
      o.metrics.connections.dec({ transport: 'ws' });
      opened = opened.then(() =>
        o.adapter
          .closed(session)
          .catch((error) => o.log.error({ err: error, device: picketId }, 'marking device offline failed')),
      );
    });
  }

  async function handleFrame(session: WsSession, data: RawData): Promise<void> {
    const raw = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const outcome = await Promise.resolve(o.adapter.receive(session, 'frame', raw, true)).catch(
      () => undefined,
    );
    // a WebSocket device learns that a reading is stored from this ack (MQTT: PUBACK)
    if (outcome?.stored !== undefined) session.send({ type: 'ack', seq: outcome.stored });
  }

  function close(): void {
    for (const ws of server.clients) ws.close(1001, 'gateway stopping');
    server.close();
  }

  return { upgrade, close };
}

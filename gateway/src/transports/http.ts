// One HTTP server: metrics, status, a small JSON API, the web UI, and the
// WebSocket upgrades for /picket (picket JSON) and /mqtt (MQTT over WebSocket).
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Cluster } from '../cluster/cluster.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import type { CommandRouter } from '../model/commands.js';
import type { Registry } from '../model/registry.js';
import type { StatePublisher } from '../model/state.js';
import { watchHandshakeFailures } from './tls.js';

export interface HttpOptions {
  nodeId: string;
  natsUrl: string;
  metrics: Metrics;
  registry: Registry;
  state: StatePublisher;
  availability: Availability;
  router: CommandRouter;
  /** who leads what, and which nodes are alive (GET /status) */
  cluster?: Pick<Cluster, 'status'>;
  log: Logger;
  /** serve HTTPS (and WSS) with this certificate instead of plain HTTP (--tls) */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  upgradePicket(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
  attachMqtt(stream: Duplex, req: IncomingMessage): void;
  /** the browser flasher's routes (/flash, /api/firmware, /firmware/…, /api/provision); true when handled */
  flash?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}

const MAX_BODY_BYTES = 16 * 1024;
const UI_PAGE = new URL('../web/index.html', import.meta.url);

export function createHttpServer(o: HttpOptions): Server {
  const mqttWs = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error) => {
      o.log.error({ err: error, url: req.url }, 'HTTP request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  };
  let server: Server;
  if (o.tls) {
    const https = createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, onRequest);
    watchHandshakeFailures(https, 'https', o.metrics, o.log);
    server = https;
  } else {
    server = createServer(onRequest);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (o.flash && (await o.flash(req, res, url))) return;
    const command = /^\/api\/entities\/([^/]+)\/command$/.exec(url.pathname);
    if (req.method === 'POST' && command) {
      const body = await readBody(req);
      if (body === undefined) return send(res, 413, { error: `body over ${MAX_BODY_BYTES} bytes` });
      const reply = await o.router.route(decodeURIComponent(command[1]!), body);
      return send(res, reply.ok ? 200 : 422, reply);
    }
    if (req.method !== 'GET') return send(res, 405, { error: 'method not allowed' });
    switch (url.pathname) {
      case '/':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(await readFile(UI_PAGE));
        return;
      case '/metrics':
        res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
        res.end(await o.metrics.registry.metrics());
        return;
      case '/status': {
        const devices = o.registry.devices();
        return send(res, 200, {
          node_id: o.nodeId,
          nats_url: o.natsUrl,
          devices: devices.length,
          devices_online: devices.filter((d) => o.availability.isOnline(d.id)).length,
          entities: o.registry.entities().length,
          ...(o.cluster ? await o.cluster.status() : {}),
        });
      }
      case '/api/devices':
        return send(res, 200, o.registry.devices());
      case '/api/entities':
        return send(
          res,
          200,
          o.registry.entities().map((entity) => ({ ...entity, state: o.state.latest(entity.id) ?? null })),
        );
      default:
        return send(res, 404, { error: `no such page: ${url.pathname}` });
    }
  }

  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/picket') {
      o.upgradePicket(req, socket, head).catch((error) => {
        o.log.error({ err: error }, 'picket WebSocket upgrade failed');
        socket.destroy();
      });
      return;
    }
    if (path === '/mqtt') {
      return mqttWs.handleUpgrade(req, socket, head, (ws) => o.attachMqtt(createWebSocketStream(ws), req));
    }
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  return server;
}

/** A JSON response (the flasher routes answer the same way). */
export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The request body, or undefined once it passes `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

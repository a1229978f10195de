// A process holding some of the live-feed clients of `bench web`: WebSocket clients of
// the gateway's GET /api/live as a browser tab opens it (Origin of the page, offering
// permessage-deflate, an API token), or, for the peer, NATS connections subscribed to
// sentinel.state.>. Each update carries its send time (lib/clock.ts); latency is
// receive − send, recorded in a histogram while the orchestrator's window is open.
import { connect as connectNats, type NatsConnection } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { decodeSendTime, nowMs } from '../lib/clock.js';
import { LatencyHistogram } from '../lib/histogram.js';
import { serveRequests } from '../lib/ipc.js';
import type { ClientsReply, ClientsRequest } from './protocol.js';

let sockets: WebSocket[] = [];
let connections: NatsConnection[] = [];
let histogram = new LatencyHistogram();
let fromMs = Number.POSITIVE_INFINITY;
let toMs = Number.NEGATIVE_INFINITY;
let received = 0;
let inWindow = 0;
let foreign = 0;

/**
 * The send time from an update's text without parsing the whole of it: the harness
 * shares the machine with the gateway, and 100,000 JSON.parse calls a second would
 * be the harness's cost, not the target's. Our publisher writes `"value":…,"ts":…`
 * in that order; the live feed passes the bus text through unchanged.
 */
function sendTimeOf(text: string): number | undefined {
  const v = text.indexOf('"value":');
  const t = text.indexOf('"ts":', v);
  if (v < 0 || t < 0) return undefined;
  const value = Number.parseFloat(text.slice(v + 8, text.indexOf(',', v)));
  const ts = Number.parseInt(text.slice(t + 5, t + 25), 10);
  return decodeSendTime(ts, value);
}

function onUpdate(text: string): void {
  const at = nowMs();
  const sent = sendTimeOf(text);
  if (sent === undefined) {
    foreign++;
    return;
  }
  received++;
  // updates sent inside the window, wherever they arrive: delivered = inWindow ÷ (published × clients)
  if (sent < fromMs || sent > toMs) return;
  inWindow++;
  histogram.record(Math.max(0, at - sent));
}

function openSocket(url: string, token: string, origin: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: {
        authorization: `Bearer ${token}`,
        origin,
        'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) sentinel-bench',
      },
      perMessageDeflate: true,
    });
    let ready = false;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const text = data.toString('utf8');
      if (!ready) {
        // the snapshot comes first: from then on the client sees every update
        if (text.startsWith('{"type":"snapshot"')) {
          ready = true;
          resolve(ws);
        }
        return;
      }
      if (text.startsWith('{"type":"state"')) onUpdate(text);
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`GET /api/live: HTTP ${res.statusCode}`)));
    ws.once('error', (error) => {
      if (!ready) reject(error);
    });
    ws.once('close', (code, reason) => {
      if (!ready) reject(new Error(`closed before the snapshot: ${code} ${reason.toString()}`));
    });
  });
}

async function openNats(url: string): Promise<NatsConnection> {
  const nc = await connectNats({ servers: url, name: 'bench-web-peer' });
  const decoder = new TextDecoder();
  nc.subscribe('sentinel.state.>', { callback: (_error, msg) => onUpdate(decoder.decode(msg.data)) });
  await nc.flush();
  return nc;
}

async function handle(request: ClientsRequest): Promise<ClientsReply> {
  switch (request.type) {
    case 'connect': {
      if (request.mode === 'ws') {
        sockets = await Promise.all(
          Array.from({ length: request.count }, () =>
            openSocket(request.url, request.token!, request.origin!),
          ),
        );
      } else {
        connections = await Promise.all(Array.from({ length: request.count }, () => openNats(request.url)));
      }
      return { type: 'connected', count: sockets.length + connections.length };
    }
    case 'window':
      histogram = new LatencyHistogram();
      received = 0;
      inWindow = 0;
      foreign = 0;
      fromMs = request.fromMs;
      toMs = request.toMs;
      return { type: 'window-set' };
    case 'report':
      return { type: 'report', histogram: histogram.snapshot(), received, inWindow, foreign };
    case 'close': {
      for (const ws of sockets) ws.close(1000);
      sockets = [];
      await Promise.all(connections.map((nc) => nc.close()));
      connections = [];
      return { type: 'closed' };
    }
  }
}

serveRequests<ClientsRequest, ClientsReply>(handle);

// The live feed, GET /api/live (docs/http-api.md): a snapshot, then every reading,
// availability change and registry change as it happens. One NATS subscription per
// subject feeds every socket, and each message is encoded once: the fan-out costs a
// send per socket, not a JSON.stringify per socket.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { type WebSocket, WebSocketServer } from 'ws';
import { subject } from '../bus/names.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { DeviceRecord, EntityRecord } from '../model/records.js';
import type { Registry, RegistryChange } from '../model/registry.js';
import type { Authenticator, Principal } from './auth.js';
import type { LatestStates } from './latest.js';
import { type HttpMetrics, httpMetrics } from './metrics.js';

/** A client whose unsent data passes this is not keeping up: it is dropped, the others carry on. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Close code for a socket whose session or token was revoked. */
export const CLOSE_REVOKED = 4401;
/** Close code for a client dropped for not reading (1008: policy violation). */
const CLOSE_TOO_SLOW = 1008;

export interface LiveFeedOptions {
  nc: NatsConnection;
  registry: Registry;
  latest: LatestStates;
  auth: Authenticator;
  metrics: Metrics;
  log: Logger;
}

interface Client {
  ws: WebSocket;
  principal: Principal;
}

/** What GET /api/entities and the snapshot show for an entity. */
export const entityView = (entity: EntityRecord, latest: LatestStates) => ({
  ...entity,
  state: latest.get(entity.id) ?? null,
});

export const deviceView = (device: DeviceRecord, registry: Registry) => ({
  ...device,
  entities: registry.entitiesOfDevice(device.id).map((e) => e.id),
});

export class LiveFeed {
  readonly #clients = new Set<Client>();
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  readonly #subscriptions: Subscription[] = [];
  readonly #stops: (() => void)[] = [];
  /** the last record sent per id: the registry applies a local write and then sees it again from KV */
  readonly #lastSent = new Map<string, string>();
  readonly #counters: HttpMetrics;

  private constructor(private readonly o: LiveFeedOptions) {
    this.#counters = httpMetrics(o.metrics);
  }

  static async start(o: LiveFeedOptions): Promise<LiveFeed> {
    const feed = new LiveFeed(o);
    feed.#follow();
    // the subscriptions are in place before any client gets its snapshot
    await o.nc.flush();
    return feed;
  }

  #follow(): void {
    const { nc, latest } = this.o;
    const decoder = new TextDecoder();
    this.#subscriptions.push(
      nc.subscribe(subject.stateAll, {
        callback: (error, msg) => {
          if (error) return;
          const text = decoder.decode(msg.data);
          let message: unknown;
          try {
            message = JSON.parse(text);
          } catch {
            return; // not a reading: nothing to show
          }
          // the raw text is what every socket gets, wrapped without re-encoding
          if (latest.offer(message)) this.#broadcast(`{"type":"state","state":${text}}`);
        },
      }),
      nc.subscribe(subject.entityAvailability('*'), {
        callback: (error, msg) => {
          if (error) return;
          let parsed: { entity_id?: unknown; available?: unknown; ts?: unknown };
          try {
            parsed = msg.json();
          } catch {
            return;
          }
          if (typeof parsed.entity_id !== 'string' || typeof parsed.available !== 'boolean') return;
          latest.setAvailable(parsed.entity_id, parsed.available);
          this.#broadcast(
            JSON.stringify({
              type: 'availability',
              entity_id: parsed.entity_id,
              available: parsed.available,
              ts: typeof parsed.ts === 'number' ? parsed.ts : Date.now(),
            }),
          );
        },
      }),
    );
    // Devices and entities come from the registry, which follows their KV buckets on every
    // node: a device going on- or offline rewrites its record there, so its whole record
    // is sent from here; sentinel.device.*.availability would only say the same thing twice.
    this.#stops.push(this.o.registry.onChange((change) => this.#registryChanged(change)));
    this.#stops.push(this.o.auth.onRevoked((id) => this.#revoked(id)));
  }

  #registryChanged(change: RegistryChange): void {
    const key = `${change.kind}:${change.id}`;
    let text: string;
    if (change.kind === 'entity') {
      text = change.record
        ? JSON.stringify({ type: 'entity', entity: entityView(change.record, this.o.latest) })
        : JSON.stringify({ type: 'entity_removed', entity_id: change.id });
    } else {
      text = change.record
        ? JSON.stringify({ type: 'device', device: deviceView(change.record, this.o.registry) })
        : JSON.stringify({ type: 'device_removed', device_id: change.id });
    }
    if (this.#lastSent.get(key) === text) return;
    if (change.record) this.#lastSent.set(key, text);
    else this.#lastSent.delete(key);
    this.#broadcast(text);
  }

  /** Completes an upgrade that passed the guards (app.ts) and sends the snapshot. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, principal: Principal): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const client: Client = { ws, principal };
      this.#clients.add(client);
      this.#counters.liveClients.set(this.#clients.size);
      ws.on('close', () => {
        this.#clients.delete(client);
        this.#counters.liveClients.set(this.#clients.size);
      });
      ws.on('error', (error) => this.o.log.debug({ err: error }, 'live feed socket error'));
      // the server speaks only: anything the client sends is ignored
      const { registry, latest } = this.o;
      ws.send(
        JSON.stringify({
          type: 'snapshot',
          entities: registry.entities().map((e) => entityView(e, latest)),
          devices: registry.devices().map((d) => deviceView(d, registry)),
        }),
      );
    });
  }

  #broadcast(text: string): void {
    if (this.#clients.size === 0) return;
    for (const client of this.#clients) {
      if (client.ws.readyState !== client.ws.OPEN) continue;
      if (client.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.#counters.liveDropped.inc({ reason: 'slow' });
        this.o.log.info({ user: client.principal.name }, 'live feed client dropped: it stopped reading');
        this.#clients.delete(client);
        client.ws.close(CLOSE_TOO_SLOW, 'too slow: reconnect and take a new snapshot');
        // a client that does not read will not read the close frame either
        client.ws.terminate();
        continue;
      }
      client.ws.send(text);
    }
    this.#counters.liveMessages.inc();
  }

  #revoked(id: string): void {
    for (const client of this.#clients) {
      if (client.principal.id !== id) continue;
      this.#counters.liveDropped.inc({ reason: 'revoked' });
      this.#clients.delete(client);
      client.ws.close(CLOSE_REVOKED, 'the session or token was revoked');
    }
  }

  stop(): void {
    for (const sub of this.#subscriptions) sub.unsubscribe();
    for (const stop of this.#stops) stop();
    for (const client of this.#clients) client.ws.close(1001, 'the gateway is stopping');
    this.#clients.clear();
    this.#wss.close();
  }
}

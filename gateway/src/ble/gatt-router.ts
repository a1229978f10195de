// GATT for the rest of the platform: request/reply on sentinel.ble.gatt.<device>.<op>,
// routed to the loudest live proxy that heard the device and has a free slot
// (a proxy answering `busy` or not answering passes the request to the next).
// The platform's connection id is `<proxy>~<connection>`; notifications of its
// subscriptions are relayed to sentinel.ble.notify.<device>.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  bleSubject,
  compactMac,
  GattNotificationSchema,
  type GattOp,
  GattOpSchema,
  type GattReply,
  GattReplySchema,
  gattFailure,
} from '@sentinel/protocol';
import type { Logger } from '../log.js';
import type { BleMetrics } from './metrics.js';
import type { OwnerTable } from './owners.js';
import type { ProxyDirectory } from './proxies.js';

export interface GattRouterOptions {
  nc: NatsConnection;
  owners: OwnerTable;
  proxies: ProxyDirectory;
  metrics: BleMetrics;
  log: Logger;
  timeoutMs: number;
}

interface Session {
  deviceId: string;
  proxy: string;
  connection: string;
  notify: Subscription | undefined;
}

const SEPARATOR = '~';

export class GattRouter {
  #sub: Subscription | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #inflight = new Set<Promise<void>>();

  constructor(private readonly o: GattRouterOptions) {}

  start(): void {
    this.#sub = this.o.nc.subscribe(bleSubject.deviceGattAll, {
      callback: (error, msg) => {
        if (error || !msg.reply) return;
        const work = this.#handle(msg);
        this.#inflight.add(work);
        void work.finally(() => this.#inflight.delete(work));
      },
    });
  }

  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    await Promise.all(this.#inflight);
    for (const s of this.#sessions.values()) s.notify?.unsubscribe();
    this.#sessions.clear();
  }

  async #handle(msg: Msg): Promise<void> {
    const [, , , deviceId, opName] = msg.subject.split('.');
    let reply: GattReply;
    try {
      reply = await this.#route(deviceId!, opName!, msg);
    } catch (error) {
      this.o.log.warn({ err: error, subject: msg.subject }, 'GATT request failed');
      reply = gattFailure('failed', (error as Error)?.message ?? String(error));
    }
    this.o.metrics.gatt.inc({ result: reply.ok ? 'ok' : reply.error.code });
    msg.respond(JSON.stringify(reply));
  }

  async #route(deviceId: string, opName: string, msg: Msg): Promise<GattReply> {
    const op = GattOpSchema.safeParse(opName);
    if (!op.success) return gattFailure('invalid', `unknown GATT operation "${opName}"`);
    const mac = deviceId.startsWith('ble-') ? compactMac(deviceId.slice(4)) : undefined;
    if (!mac) return gattFailure('invalid', `"${deviceId}" is not a BLE device id (ble-<mac>)`);
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = msg.data.length === 0 ? {} : JSON.parse(msg.string());
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        return gattFailure('invalid', 'request must be a JSON object');
      body = parsed as Record<string, unknown>;
    } catch {
      return gattFailure('invalid', 'request is not JSON');
    }
    const kind: GattOp = op.data;
    if (kind === 'connect') return this.#connect(deviceId, mac, body);
    if (typeof body.connection !== 'string') {
      // read and write without a connection: connect, do it, disconnect
      if (kind === 'read' || kind === 'write') return this.#oneShot(deviceId, mac, kind, body);
      return gattFailure('invalid', 'connection: required (from connect)');
    }
    const session = this.#sessions.get(body.connection);
    if (!session || session.deviceId !== deviceId)
      return gattFailure('not_connected', `no connection "${body.connection}" to ${deviceId}`);
    const reply = await this.#ask(session.proxy, kind, { ...body, connection: session.connection });
    if (kind === 'subscribe' && reply.ok) this.#relay(session, body.connection);
    if (kind === 'disconnect' || (!reply.ok && reply.error.code === 'not_connected'))
      this.#end(body.connection);
    return reply;
  }

  async #connect(deviceId: string, mac: string, body: Record<string, unknown>): Promise<GattReply> {
    const now = Date.now();
    // sessions through a proxy that died cannot end by themselves
    for (const [id, session] of this.#sessions) if (!this.o.proxies.alive(session.proxy, now)) this.#end(id);
    const candidates = this.o.owners
      .hearings(mac, now)
      .filter((h) => this.o.proxies.alive(h.proxy, now))
      .filter((h) => {
        const status = this.o.proxies.get(h.proxy)?.status;
        return !status || status.gatt.used < status.gatt.total;
      });
    if (candidates.length === 0) {
      const heard = this.o.owners.hearings(mac, now).length > 0;
      return heard
        ? gattFailure('busy', `every proxy that hears ${deviceId} has all its connection slots in use`)
        : gattFailure('unavailable', `no live proxy has heard ${deviceId} recently`);
    }
    let last: GattReply = gattFailure('unavailable', `no proxy could connect to ${deviceId}`);
    for (const candidate of candidates) {
      const reply = await this.#ask(candidate.proxy, 'connect', { ...body, mac });
      if (reply.ok && reply.connection) {
        const id = `${candidate.proxy}${SEPARATOR}${reply.connection}`;
        const session: Session = {
          deviceId,
          proxy: candidate.proxy,
          connection: reply.connection,
          notify: undefined,
        };
        this.#sessions.set(id, session);
        // followed from the start: the proxy's "disconnected" (idle, link lost) ends the
        // session here too, even when the platform never subscribed or asks again
        this.#relay(session, id);
        return { ok: true, connection: id, proxy: candidate.proxy };
      }
      last = reply;
      // invalid requests fail the same everywhere; anything else may work on another proxy
      if (!reply.ok && reply.error.code === 'invalid') return reply;
    }
    return last;
  }

  async #oneShot(
    deviceId: string,
    mac: string,
    op: 'read' | 'write',
    body: Record<string, unknown>,
  ): Promise<GattReply> {
    const connected = await this.#connect(deviceId, mac, {});
    if (!connected.ok || !connected.connection) return connected;
    const session = this.#sessions.get(connected.connection)!;
    try {
      return await this.#ask(session.proxy, op, { ...body, connection: session.connection });
    } finally {
      await this.#ask(session.proxy, 'disconnect', { connection: session.connection });
      this.#end(connected.connection);
    }
  }

  #relay(session: Session, platformId: string): void {
    if (session.notify) return;
    session.notify = this.o.nc.subscribe(bleSubject.proxyNotify(session.proxy, session.connection), {
      callback: (error, msg) => {
        if (error) return;
        let note: unknown;
        try {
          note = msg.json();
        } catch {
          return;
        }
        const parsed = GattNotificationSchema.safeParse(note);
        if (!parsed.success) return;
        this.o.nc.publish(
          bleSubject.deviceNotify(session.deviceId),
          JSON.stringify({ ...parsed.data, connection: platformId }),
        );
        if (parsed.data.disconnected) this.#end(platformId);
      },
    });
  }

  #end(platformId: string): void {
    const session = this.#sessions.get(platformId);
    if (!session) return;
    this.#sessions.delete(platformId);
    // let a final "disconnected" notification through before unsubscribing
    session.notify?.unsubscribe();
  }

  async #ask(proxy: string, op: GattOp, body: Record<string, unknown>): Promise<GattReply> {
    try {
      const msg = await this.o.nc.request(bleSubject.proxyGatt(proxy, op), JSON.stringify(body), {
        timeout: this.o.timeoutMs,
      });
      const parsed = GattReplySchema.safeParse(msg.json());
      if (!parsed.success) return gattFailure('failed', `proxy ${proxy} gave an answer that is not one`);
      return parsed.data as GattReply;
    } catch (error) {
      return gattFailure(
        'unavailable',
        `proxy ${proxy} did not answer: ${(error as Error)?.message ?? error}`,
      );
    }
  }
}

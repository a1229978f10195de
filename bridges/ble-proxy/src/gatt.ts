// GATT over NATS: request/reply on sentinel.ble.proxy.<id>.gatt.<op>, a fixed
// number of connection slots (a Pi Zero's controller holds a few links at once),
// notifications on sentinel.ble.proxy.<id>.notify.<connection>. Scanning pauses
// while an operation runs and resumes after (see scanner.ts).

import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  bleSubject,
  compactMac,
  type GattNotification,
  type GattOp,
  GattOpSchema,
  type GattReply,
  type GattRequest,
  GattRequestSchemas,
  type GattService,
  gattFailure,
} from '@sentinel/protocol';
import type { Characteristic, Noble, Peripheral } from '@stoprocent/noble';
import type { Logger } from './log.js';
import type { ScanSupervisor } from './scanner.js';
import { withTimeout } from './timeout.js';

export interface GattServerOptions {
  proxyId: string;
  nc: NatsConnection;
  noble: Noble;
  scanner: ScanSupervisor;
  log: Logger;
  /** connection slots; a connect beyond them answers `busy` */
  slots: number;
  /** an operation that takes longer answers `timeout` */
  opTimeoutMs: number;
  /** a connection nobody used for this long is closed, freeing its slot */
  idleMs: number;
}

interface Connection {
  id: string;
  mac: string;
  peripheral: Peripheral;
  characteristics: Map<string, Characteristic>;
  subscriptions: Map<string, (data: Buffer, isNotification: boolean) => void>;
  idle: NodeJS.Timeout | undefined;
  onDisconnect: () => void;
}

class GattOpError extends Error {
  override name = 'GattOpError';
  constructor(
    readonly code: 'not_found' | 'timeout' | 'failed' | 'not_connected',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class GattServer {
  readonly #connections = new Map<string, Connection>();
  #connecting = 0;
  #nextId = 1;
  #sub: Subscription | undefined;
  /** operations answered, by outcome (for the status message) */
  readonly counts = { ok: 0, failed: 0 };

  constructor(private readonly o: GattServerOptions) {}

  /** slots in use, including connections being set up */
  get used(): number {
    return this.#connections.size + this.#connecting;
  }

  start(): void {
    this.#sub = this.o.nc.subscribe(bleSubject.proxyGattAll(this.o.proxyId), {
      callback: (error, msg) => {
        if (error) return;
        void this.#handle(msg);
      },
    });
  }

  async stop(): Promise<void> {
    if (!this.o.nc.isClosed()) this.#sub?.unsubscribe();
    await Promise.all([...this.#connections.values()].map((c) => this.#close(c, 'the proxy is stopping')));
  }

  async #handle(msg: Msg): Promise<void> {
    const reply = await this.#answer(msg).catch((error: unknown) => {
      this.o.log.warn({ err: error, subject: msg.subject }, 'GATT operation failed');
      if (error instanceof GattOpError) return gattFailure(error.code, error.message);
      return gattFailure('failed', (error as Error)?.message ?? String(error));
    });
    if (reply.ok) this.counts.ok++;
    else this.counts.failed++;
    if (msg.reply) msg.respond(JSON.stringify(reply));
  }

  async #answer(msg: Msg): Promise<GattReply> {
    const op = GattOpSchema.safeParse(msg.subject.split('.').at(-1));
    if (!op.success) return gattFailure('invalid', `unknown GATT operation in ${msg.subject}`);
    let body: unknown;
    try {
      body = msg.data.length === 0 ? {} : JSON.parse(msg.string());
    } catch {
      return gattFailure('invalid', 'request is not JSON');
    }
    const parsed = GattRequestSchemas[op.data].safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return gattFailure('invalid', `${issue.path.join('.') || 'request'}: ${issue.message}`);
    }
    const kind: GattOp = op.data;
    switch (kind) {
      case 'connect':
        return this.#connect(parsed.data as GattRequest<'connect'>);
      case 'discover':
        return this.#withConnection(parsed.data as GattRequest<'discover'>, (c) => this.#discover(c));
      case 'read': {
        const r = parsed.data as GattRequest<'read'>;
        return this.#withConnection(r, async (c) => {
          const ch = await this.#characteristic(c, r.service, r.characteristic);
          return { ok: true, data: (await this.#timed(ch.readAsync(), 'read')).toString('hex') };
        });
      }
      case 'write': {
        const r = parsed.data as GattRequest<'write'>;
        return this.#withConnection(r, async (c) => {
          const ch = await this.#characteristic(c, r.service, r.characteristic);
          await this.#timed(ch.writeAsync(Buffer.from(r.data, 'hex'), r.without_response ?? false), 'write');
          return { ok: true };
        });
      }
      case 'subscribe': {
        const r = parsed.data as GattRequest<'subscribe'>;
        return this.#withConnection(r, (c) => this.#subscribe(c, r.service, r.characteristic));
      }
      case 'unsubscribe': {
        const r = parsed.data as GattRequest<'unsubscribe'>;
        return this.#withConnection(r, async (c) => {
          const key = `${r.service}/${r.characteristic}`;
          const listener = c.subscriptions.get(key);
          if (listener) {
            const ch = await this.#characteristic(c, r.service, r.characteristic);
            ch.off('data', listener);
            c.subscriptions.delete(key);
            await this.#timed(ch.unsubscribeAsync(), 'unsubscribe');
          }
          return { ok: true };
        });
      }
      case 'disconnect': {
        const c = this.#connections.get((parsed.data as GattRequest<'disconnect'>).connection);
        if (!c) return gattFailure('not_connected', 'no such connection');
        await this.#close(c, 'asked to');
        return { ok: true };
      }
    }
  }

  async #connect(request: GattRequest<'connect'>): Promise<GattReply> {
    const mac = compactMac(request.mac);
    if (!mac) return gattFailure('invalid', `mac: "${request.mac}" is not a Bluetooth address`);
    if (this.o.scanner.adapter !== 'poweredOn')
      return gattFailure('unavailable', `the adapter is ${this.o.scanner.adapter}`);
    if (this.used >= this.o.slots)
      return gattFailure('busy', `all ${this.o.slots} connection slots are in use`);
    this.#connecting++;
    this.o.scanner.pause();
    try {
      const peripheral = await this.#timed(
        this.o.noble.connectAsync(
          mac,
          request.address_type ? ({ addressType: request.address_type } as never) : undefined,
        ),
        'connect',
        request.timeout_ms,
      ).catch((error: unknown) => {
        this.o.noble.cancelConnect(mac);
        throw error;
      });
      const id = `c${this.#nextId++}`;
      const connection: Connection = {
        id,
        mac,
        peripheral,
        characteristics: new Map(),
        subscriptions: new Map(),
        idle: undefined,
        onDisconnect: () => this.#forget(connection, 'the peripheral disconnected'),
      };
      peripheral.once('disconnect', connection.onDisconnect);
      this.#connections.set(id, connection);
      this.#touch(connection);
      this.o.log.info({ mac, connection: id, slots: this.#connections.size }, 'GATT connected');
      return { ok: true, connection: id, proxy: this.o.proxyId };
    } finally {
      this.#connecting--;
      this.o.scanner.resume();
    }
  }

  async #withConnection(
    request: { connection: string },
    work: (c: Connection) => Promise<GattReply>,
  ): Promise<GattReply> {
    const c = this.#connections.get(request.connection);
    if (!c) return gattFailure('not_connected', `no connection "${request.connection}" on this proxy`);
    this.o.scanner.pause();
    try {
      this.#touch(c);
      return await work(c);
    } finally {
      this.o.scanner.resume();
    }
  }

  async #discover(c: Connection): Promise<GattReply> {
    const { services } = await this.#timed(
      c.peripheral.discoverAllServicesAndCharacteristicsAsync(),
      'discover',
    );
    const out: GattService[] = services.map((s) => ({
      uuid: s.uuid,
      characteristics: (s.characteristics ?? []).map((ch) => {
        c.characteristics.set(`${s.uuid}/${ch.uuid}`, ch);
        return { uuid: ch.uuid, properties: [...ch.properties] };
      }),
    }));
    return { ok: true, services: out };
  }

  async #characteristic(c: Connection, service: string, characteristic: string): Promise<Characteristic> {
    const key = `${service}/${characteristic}`;
    const known = c.characteristics.get(key);
    if (known) return known;
    const found = await this.#timed(
      c.peripheral.discoverSomeServicesAndCharacteristicsAsync([service], [characteristic]),
      'discover',
    ).catch((error: unknown) => {
      throw new GattOpError('not_found', `service ${service} not found`, { cause: error });
    });
    const ch = found.characteristics.find((x) => x.uuid === characteristic);
    if (!ch)
      throw new GattOpError('not_found', `characteristic ${characteristic} not found in service ${service}`);
    c.characteristics.set(key, ch);
    return ch;
  }

  async #subscribe(c: Connection, service: string, characteristic: string): Promise<GattReply> {
    const key = `${service}/${characteristic}`;
    if (c.subscriptions.has(key)) return { ok: true };
    const ch = await this.#characteristic(c, service, characteristic);
    const subject = bleSubject.proxyNotify(this.o.proxyId, c.id);
    const listener = (data: Buffer, isNotification: boolean) => {
      if (!isNotification) return;
      this.#touch(c);
      const note: GattNotification = {
        connection: c.id,
        service,
        characteristic,
        data: data.toString('hex'),
        ts: Date.now(),
      };
      this.o.nc.publish(subject, JSON.stringify(note));
    };
    ch.on('data', listener);
    c.subscriptions.set(key, listener);
    await this.#timed(ch.subscribeAsync(), 'subscribe');
    return { ok: true };
  }

  async #close(c: Connection, why: string): Promise<void> {
    if (!this.#connections.has(c.id)) return;
    c.peripheral.off('disconnect', c.onDisconnect);
    this.#forget(c, why);
    await this.#timed(c.peripheral.disconnectAsync(), 'disconnect').catch(() => undefined);
  }

  /** The connection is gone (asked, idle, or the link dropped): free the slot, tell subscribers. */
  #forget(c: Connection, why: string): void {
    if (!this.#connections.delete(c.id)) return;
    clearTimeout(c.idle);
    for (const [key, listener] of c.subscriptions) c.characteristics.get(key)?.off('data', listener);
    if (c.subscriptions.size > 0 && !this.o.nc.isClosed()) {
      const note: GattNotification = {
        connection: c.id,
        service: '',
        characteristic: '',
        data: '',
        ts: Date.now(),
        disconnected: true,
      };
      this.o.nc.publish(bleSubject.proxyNotify(this.o.proxyId, c.id), JSON.stringify(note));
    }
    this.o.log.info({ mac: c.mac, connection: c.id, why, used: this.used }, 'GATT disconnected');
  }

  #touch(c: Connection): void {
    clearTimeout(c.idle);
    c.idle = setTimeout(() => void this.#close(c, 'idle'), this.o.idleMs);
    c.idle.unref();
  }

  #timed<T>(promise: Promise<T>, what: string, ms = this.o.opTimeoutMs): Promise<T> {
    return withTimeout(
      promise,
      ms,
      () => new GattOpError('timeout', `${what} took longer than ${ms} ms`),
    ).catch((e: unknown) => {
      throw e instanceof GattOpError
        ? e
        : new GattOpError('failed', `${what}: ${(e as Error)?.message ?? e}`, { cause: e });
    });
  }
}

// A BLE proxy node: noble scanning → batches of raw advertisements on
// sentinel.ble.proxy.<id>.adv, a status heartbeat on .status, GATT on .gatt.<op>.
// While NATS is unreachable advertisements wait in a bounded ring (oldest dropped,
// counted); nothing grows with an outage.
import type { NatsConnection } from '@nats-io/transport-node';
import {
  bleSubject,
  encodeAdvBatch,
  type ProxyStatus,
  type RawAdvertisement,
  WIRE_VERSION,
} from '@sentinel/protocol';
import type { Noble } from '@stoprocent/noble';
import manifest from '../package.json' with { type: 'json' };
import { GattServer } from './gatt.js';
import type { Logger } from './log.js';
import { Ring } from './ring.js';
import { ScanSupervisor } from './scanner.js';

// imported, not read at run time: the bundle for a Pi has no package.json beside it
export const PROXY_VERSION: string = manifest.version;

export interface BleProxyOptions {
  id: string;
  nc: NatsConnection;
  noble: Noble;
  log: Logger;
  /** GATT connection slots (default 3) */
  slots?: number;
  /** advertisements per batch at most (default 100) */
  batchMax?: number;
  /** a batch goes out at least this often (default 100 ms) */
  batchMs?: number;
  /** advertisements kept while NATS is away (default 5000) */
  bufferCapacity?: number;
  /** status heartbeat (default 5000 ms) */
  statusIntervalMs?: number;
  /** GATT operation timeout (default 10000 ms) */
  gattTimeoutMs?: number;
  /** idle GATT connections are closed after this (default 30000 ms) */
  gattIdleMs?: number;
  /** adapter/scan retry backoff start (default 500 ms) */
  backoffMs?: number;
}

export const PROXY_DEFAULTS = {
  slots: 3,
  batchMax: 100,
  batchMs: 100,
  bufferCapacity: 5000,
  statusIntervalMs: 5000,
  gattTimeoutMs: 10_000,
  gattIdleMs: 30_000,
  backoffMs: 500,
} as const;

export class BleProxy {
  readonly scanner: ScanSupervisor;
  readonly gatt: GattServer;
  readonly #ring: Ring<RawAdvertisement>;
  readonly #o: Required<BleProxyOptions>;
  #seq = 0;
  #connected = true;
  #heard = 0;
  #published = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #statusSoon: NodeJS.Timeout | undefined;
  readonly #started = Date.now();
  #stopped = false;

  constructor(options: BleProxyOptions) {
    this.#o = { ...PROXY_DEFAULTS, ...options } as Required<BleProxyOptions>;
    this.#ring = new Ring(this.#o.bufferCapacity);
    this.scanner = new ScanSupervisor(this.#o.noble, { log: this.#o.log, backoffMs: this.#o.backoffMs });
    this.gatt = new GattServer({
      proxyId: this.#o.id,
      nc: this.#o.nc,
      noble: this.#o.noble,
      scanner: this.scanner,
      log: this.#o.log,
      slots: this.#o.slots,
      opTimeoutMs: this.#o.gattTimeoutMs,
      idleMs: this.#o.gattIdleMs,
    });
  }

  get id(): string {
    return this.#o.id;
  }

  /** advertisements waiting for NATS */
  get bufferDepth(): number {
    return this.#ring.size;
  }

  /** advertisements dropped because the buffer was full */
  get dropped(): number {
    return this.#ring.dropped;
  }

  get heard(): number {
    return this.#heard;
  }

  /** advertisements handed to NATS */
  get published(): number {
    return this.#published;
  }

  start(): void {
    this.#watchConnection();
    this.scanner.on('advertisement', this.#onAdvertisement);
    this.scanner.on('change', this.#statusChanged);
    this.gatt.start();
    this.scanner.start();
    this.#flushTimer = setInterval(this.#flush, this.#o.batchMs);
    this.#statusTimer = setInterval(() => this.#publishStatus(), this.#o.statusIntervalMs);
    this.#publishStatus();
  }

  /** Stops scanning, closes GATT connections, sends what is buffered and a last status. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#flushTimer);
    clearInterval(this.#statusTimer);
    clearTimeout(this.#statusSoon);
    this.scanner.off('advertisement', this.#onAdvertisement);
    await this.gatt.stop();
    await this.scanner.stop();
    this.#flush();
    this.#publishStatus(true);
  }

  status(stopping = false): ProxyStatus {
    return {
      v: WIRE_VERSION,
      proxy: this.#o.id,
      version: PROXY_VERSION,
      ts: Date.now(),
      interval_ms: this.#o.statusIntervalMs,
      adapter: this.scanner.adapter,
      scanning: this.scanner.state,
      gatt: { used: this.gatt.used, total: this.#o.slots },
      buffer: { depth: this.#ring.size, capacity: this.#o.bufferCapacity },
      dropped: { buffer: this.#ring.dropped },
      advertisements: this.#heard,
      restarts: this.scanner.restarts,
      errors: this.scanner.errors,
      rss_bytes: process.memoryUsage.rss(),
      uptime_s: Math.round((Date.now() - this.#started) / 1000),
      nats_connected: this.#connected,
      ...(stopping ? { stopping: true } : {}),
    };
  }

  readonly #onAdvertisement = (adv: RawAdvertisement) => {
    this.#heard++;
    this.#ring.push(adv);
    if (this.#ring.size >= this.#o.batchMax) this.#flush();
  };

  readonly #flush = () => {
    if (!this.#connected || this.#o.nc.isClosed()) return;
    while (this.#ring.size > 0) {
      const entries = this.#ring.take(this.#o.batchMax);
      this.#o.nc.publish(bleSubject.adv(this.#o.id), encodeAdvBatch(this.#o.id, this.#seq++, entries));
      this.#published += entries.length;
    }
  };

  /** A state change goes out promptly, but at most one status per 250 ms. */
  readonly #statusChanged = () => {
    if (this.#statusSoon || this.#stopped) return;
    this.#statusSoon = setTimeout(() => {
      this.#statusSoon = undefined;
      this.#publishStatus();
    }, 250);
  };

  #publishStatus(stopping = false): void {
    if (!this.#connected || this.#o.nc.isClosed()) return;
    this.#o.nc.publish(bleSubject.status(this.#o.id), JSON.stringify(this.status(stopping)));
  }

  #watchConnection(): void {
    void (async () => {
      for await (const s of this.#o.nc.status()) {
        if (s.type === 'disconnect') {
          this.#connected = false;
          this.#o.log.warn('NATS unreachable; buffering advertisements');
        } else if (s.type === 'reconnect') {
          this.#connected = true;
          this.#o.log.info(
            { buffered: this.#ring.size, dropped: this.#ring.dropped },
            'NATS back; sending the buffer',
          );
          this.#flush();
          this.#publishStatus();
        }
      }
    })();
  }
}

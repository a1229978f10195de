// The gateway's BLE adapter (one active instance per cluster, behind the `ble`
// leader lock): raw advertisement batches from every proxy → one owning proxy per
// address → identical payloads suppressed → decoded → adopted only (adoption.ts) →
// replays dropped → devices `ble-<mac>` and their entities in the entity model,
// readings on sentinel.state.>.
// Availability follows staleness judged by each device's learned interval. A bad
// batch from one proxy is counted and dropped; every other proxy carries on.
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { EntityDescription } from '@sentinel/firmware';
import {
  bleDeviceId,
  bleSubject,
  colonMac,
  decodeAdvBatch,
  MalformedAdError,
  parseAdStructures,
  type RawAdvertisement,
} from '@sentinel/protocol';
import type { LeaderLease } from '../bus/locks.js';
import { type Logger, ThrottledLog } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import { isWinningReading } from '../model/bindings.js';
import type { Registry } from '../model/registry.js';
import type { StatePublisher } from '../model/state.js';
import { followBleSettings, openBleSettings } from './adoption.js';
import { advertisementInput, type BleDecoded, type BleDecoder, devicesDecoder } from './decoder.js';
import { GattRouter } from './gatt-router.js';
import { followBleKeys, openBleKeys } from './keys.js';
import { type BleMetrics, type BleRejectReason, bleMetrics } from './metrics.js';
import { type OwnerOptions, OwnerTable } from './owners.js';
import { ProxyDirectory } from './proxies.js';

export const BLE_PROTOCOL = 'ble';

/** how many accepted payloads per device are remembered for late copies, and for how long */
const RECENT_PAYLOADS = 8;
const LATE_COPY_MS = 3000;

/**
 * A copy of a payload another proxy delivered moments ago: the bytes a proxy's
 * batch still held when ownership moved. The same bytes from the same proxy are a
 * real repeat of an earlier state (A → B → A) and are not suppressed here.
 */
function isLateCopy(device: DeviceState, payload: string, proxy: string, now: number): boolean {
  return device.recent.some((r) => r.payload === payload && r.proxy !== proxy && now - r.at <= LATE_COPY_MS);
}

export interface BleAdapterDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  registry: Registry;
  state: StatePublisher;
  availability: Availability;
  metrics: Metrics;
  log: Logger;
  /** default: the decoders of @sentinel/devices */
  decoder?: BleDecoder;
  owners?: Partial<OwnerOptions>;
  /** a device is offline after this many learned intervals without a word… */
  offlineIntervals?: number;
  /** …and never sooner than this (default 60 s: sensors that advertise rarely; --ble-offline) */
  offlineMinMs?: number;
  /** how often staleness is checked (default 1 s) */
  sweepMs?: number;
  /** GATT request timeout towards a proxy (default 12 s) */
  gattTimeoutMs?: number;
}

export interface BleAdapter {
  stop(): Promise<void>;
}

interface DeviceState {
  id: string;
  mac: string;
  /** AD bytes of the last accepted advertisement, for identical-payload suppression */
  lastPayload: string | undefined;
  /**
   * payloads accepted lately, with the proxy that carried them: after a hand-over the
   * new owner may still deliver a copy of an older advertisement its batch held
   */
  recent: { payload: string; at: number; proxy: string }[];
  lastHeard: number;
  online: boolean;
  /** measurement keys with an entity */
  keys: Set<string>;
  /** entities being created: readings wait for it */
  pending: Promise<void> | undefined;
  name: string;
}

export async function startBleAdapter(deps: BleAdapterDeps, lease?: LeaderLease): Promise<BleAdapter> {
  const adapter = new BleAdapterImpl(deps, lease);
  try {
    await adapter.start();
  } catch (error) {
    await adapter.stop();
    throw error;
  }
  return adapter;
}

class BleAdapterImpl implements BleAdapter {
  readonly #m: BleMetrics;
  readonly #log: ThrottledLog;
  readonly #proxies = new ProxyDirectory();
  readonly #owners: OwnerTable;
  readonly #devices = new Map<string, DeviceState>();
  readonly #subs: Subscription[] = [];
  #keys: Awaited<ReturnType<typeof followBleKeys>> | undefined;
  #settings: Awaited<ReturnType<typeof followBleSettings>> | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #gatt: GattRouter | undefined;
  #stopped = false;
  readonly #accepted;
  readonly #notOwner;
  readonly #identical;
  readonly #notAdopted;
  readonly #readings;
  readonly #decoder: BleDecoder;

  constructor(
    private readonly d: BleAdapterDeps,
    private readonly lease: LeaderLease | undefined,
  ) {
    this.#m = bleMetrics(d.metrics);
    this.#decoder = d.decoder ?? devicesDecoder();
    this.#log = new ThrottledLog(d.log);
    this.#owners = new OwnerTable(d.owners, (proxy) => this.#proxies.alive(proxy, Date.now()));
    this.#accepted = this.#m.advertisements.labels('accepted');
    this.#notOwner = this.#m.advertisements.labels('not_owner');
    this.#identical = this.#m.advertisements.labels('identical');
    this.#notAdopted = this.#m.advertisements.labels('not_adopted');
    this.#readings = d.metrics.readings.labels(BLE_PROTOCOL, '0');
  }

  async start(): Promise<void> {
    this.#keys = await followBleKeys(
      await openBleKeys(this.d.js),
      (deviceId) => {
        // a new key must decode the very packet that failed before: forget its bytes,
        // and its packet counter even when the device is not among those heard lately
        const device = this.#devices.get(deviceId);
        if (device) {
          device.lastPayload = undefined;
          device.recent.length = 0;
        }
        if (deviceId.startsWith('ble-')) this.#decoder.forget(colonMac(deviceId.slice('ble-'.length)));
      },
      (deviceId) =>
        this.#reject('invalid_key', deviceId, `invalid record for ${deviceId} in sentinel_ble_keys`),
    );
    this.#settings = await followBleSettings(await openBleSettings(this.d.js));
    this.#subs.push(
      this.d.nc.subscribe(bleSubject.advAll, {
        callback: (error, msg) => {
          if (!error) this.#onBatch(msg);
        },
      }),
      this.d.nc.subscribe(bleSubject.statusAll, {
        callback: (error, msg) => {
          if (!error) this.#onStatus(msg);
        },
      }),
    );
    this.#gatt = new GattRouter({
      nc: this.d.nc,
      owners: this.#owners,
      proxies: this.#proxies,
      metrics: this.#m,
      log: this.d.log,
      timeoutMs: this.d.gattTimeoutMs ?? 12_000,
    });
    this.#gatt.start();
    this.#sweep = setInterval(() => this.#sweepStale(), this.d.sweepMs ?? 1000);
    this.#sweep.unref();
    await this.d.nc.flush();
    this.d.log.info({ lease_revision: this.lease?.revision }, 'BLE adapter started');
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#sweep);
    for (const sub of this.#subs) sub.unsubscribe();
    this.#keys?.stop();
    this.#settings?.stop();
    await this.#gatt?.stop();
    // readings under way finish; devices stay as they are (the next leader carries on)
    await Promise.all([...this.#devices.values()].map((d) => d.pending));
    this.d.log.info('BLE adapter stopped');
  }

  #onStatus(msg: Msg): void {
    const proxyId = msg.subject.split('.')[3]!;
    let body: unknown;
    try {
      body = msg.json();
    } catch {
      body = undefined;
    }
    const now = Date.now();
    if (!this.#proxies.update(proxyId, body, now)) {
      this.#m.badBatches.inc({ proxy: proxyId });
      this.#reject('bad_batch', `status:${proxyId}`, `proxy ${proxyId} sent a status that is not one`, {
        proxy: proxyId,
      });
    }
    this.#m.proxies.set(this.#proxies.count(now));
  }

  #onBatch(msg: Msg): void {
    if (this.#stopped) return;
    const proxyId = msg.subject.split('.')[3]!;
    const decoded = decodeAdvBatch(msg.data);
    if (!decoded.ok || decoded.batch.proxy !== proxyId) {
      const message = decoded.ok ? `batch names proxy "${decoded.batch.proxy}"` : decoded.problem.message;
      this.#m.badBatches.inc({ proxy: proxyId });
      this.#reject('bad_batch', `batch:${proxyId}`, `bad batch from proxy ${proxyId}: ${message}`, {
        proxy: proxyId,
      });
      return;
    }
    for (const problem of decoded.problems) {
      this.#reject(
        'bad_entry',
        `entry:${proxyId}`,
        `bad entry in a batch from proxy ${proxyId}: ${problem.message}`,
        {
          proxy: proxyId,
        },
      );
    }
    const now = Date.now();
    this.#proxies.heard(proxyId, now);
    for (const entry of decoded.entries) this.#onAdvertisement(proxyId, entry, now);
  }

  #onAdvertisement(proxyId: string, entry: RawAdvertisement, now: number): void {
    const verdict = this.#owners.observe(entry.mac, proxyId, entry.rssi, entry.ts, now);
    const deviceId = bleDeviceId(entry.mac);
    const known = this.#devices.get(deviceId);
    if (known) known.lastHeard = now;
    if (!verdict.owner) {
      this.#notOwner.inc();
      return;
    }
    if (verdict.handover) {
      this.#m.handovers.inc({ why: verdict.handover.why });
      this.d.log.info(
        { device_id: deviceId, from: verdict.handover.from, to: proxyId, why: verdict.handover.why },
        'BLE address handed to another proxy',
      );
    }
    const payload = Buffer.from(entry.ad).toString('base64');
    if (known && (known.lastPayload === payload || isLateCopy(known, payload, proxyId, now))) {
      this.#identical.inc();
      return;
    }
    let fields: ReturnType<typeof parseAdStructures>;
    try {
      fields = parseAdStructures(entry.ad);
    } catch (error) {
      if (!(error instanceof MalformedAdError)) throw error;
      this.#reject('malformed', deviceId, `${deviceId}: ${error.message}`, {
        device_id: deviceId,
        proxy: proxyId,
      });
      return;
    }
    const adv = advertisementInput(entry, fields);
    const result = this.#decoder.decode(adv, this.#keys?.get(deviceId));
    if (!result.ok) {
      if (result.error === 'unsupported') {
        // most of the air is phones and headphones: counted, never logged
        this.#m.rejected.inc({ reason: 'unsupported' });
        return;
      }
      const reason = result.error === 'decrypt failed' ? 'decrypt_failed' : result.error;
      this.#reject(reason, `${deviceId}:${reason}`, `${deviceId}: ${result.error}: ${result.detail}`, {
        device_id: deviceId,
        proxy: proxyId,
      });
      return;
    }
    if (!this.#adopted(deviceId)) {
      // waits in GET /api/ble/heard until a person adopts it (adoption.ts)
      this.#notAdopted.inc();
      if (known) this.#devices.delete(deviceId);
      return;
    }
    const packet = this.#decoder.packet(adv.mac, result);
    if (packet === 'duplicate') {
      // the same reading again (same packet id, other bytes: a re-encryption, a scan response)
      this.#identical.inc();
      return;
    }
    if (packet === 'replay') {
      this.#reject('replay', `${deviceId}:replay`, `${deviceId}: replayed packet id ${result.packetId}`, {
        device_id: deviceId,
        proxy: proxyId,
      });
      return;
    }
    const device = known ?? this.#newDevice(deviceId, entry.mac, fields.localName, now);
    device.lastPayload = payload;
    device.recent.push({ payload, at: now, proxy: proxyId });
    if (device.recent.length > RECENT_PAYLOADS) device.recent.shift();
    this.#accepted.inc();
    const publish = () => this.#publish(device, result, now);
    if (device.pending) {
      const after = device.pending.then(publish);
      device.pending = after;
      void after.finally(() => {
        if (device.pending === after) device.pending = undefined;
      });
      return;
    }
    void publish();
  }

  /** Adopted: a device record exists, or every understood sensor is adopted automatically. */
  #adopted(deviceId: string): boolean {
    return this.#settings?.autoAdopt() !== false || this.d.registry.device(deviceId) !== undefined;
  }

  #newDevice(deviceId: string, mac: string, localName: string, now: number): DeviceState {
    const device: DeviceState = {
      id: deviceId,
      mac,
      lastPayload: undefined,
      recent: [],
      lastHeard: now,
      online: false,
      keys: new Set(),
      pending: undefined,
      name: this.d.registry.device(deviceId)?.name ?? (localName || `BLE ${colonMac(mac)}`),
    };
    this.#devices.set(deviceId, device);
    return device;
  }

  /** Publishes a decoded reading; first creates missing entities and marks the device online. */
  #publish(
    device: DeviceState,
    result: Extract<BleDecoded, { ok: true }>,
    now: number,
  ): void | Promise<void> {
    const missing: EntityDescription[] = [];
    for (const key of Object.keys(result.measurements)) {
      if (key === 'packet_id' || device.keys.has(key)) continue;
      missing.push(this.#describe(key, result.measurements[key]!, result.units?.[key]));
    }
    if (missing.length > 0 || !device.online) {
      const work = this.#register(device, missing, result).then(() =>
        this.#publishValues(device, result, now),
      );
      device.pending = work;
      return work
        .catch((error: unknown) => {
          this.d.log.warn({ err: error, device_id: device.id }, 'registering a BLE device failed');
        })
        .finally(() => {
          if (device.pending === work) device.pending = undefined;
        });
    }
    this.#publishValues(device, result, now);
  }

  async #register(
    device: DeviceState,
    missing: EntityDescription[],
    result: Extract<BleDecoded, { ok: true }>,
  ): Promise<void> {
    if (missing.length > 0) {
      await this.d.registry.ensureEntities(BLE_PROTOCOL, device.id, device.name, missing);
      for (const d of missing) device.keys.add(d.key);
    }
    if (!device.online) {
      device.online = true;
      await this.d.availability.deviceOnline({
        id: device.id,
        protocol: BLE_PROTOCOL,
        name: device.name,
        model: result.device?.model ?? result.format,
        manufacturer: result.device?.manufacturer,
        sw_version: result.device?.swVersion,
        mac: colonMac(device.mac),
      });
    }
  }

  #publishValues(device: DeviceState, result: Extract<BleDecoded, { ok: true }>, now: number): void {
    if (this.#stopped) return;
    this.d.availability.touch(device.id);
    for (const [key, value] of Object.entries(result.measurements)) {
      if (key === 'packet_id') continue;
      const entity = this.d.registry.entityFor(BLE_PROTOCOL, device.id, key);
      if (!entity) continue;
      const source = { protocol: BLE_PROTOCOL, device_id: device.id, key };
      if (!isWinningReading(entity, source, this.d.availability.isOnline)) continue;
      void this.d.state.publish({
        entity_id: entity.id,
        value,
        ts: now,
        ...(entity.unit === undefined ? {} : { unit: entity.unit }),
        source,
      });
    }
    this.#readings.inc();
  }

  /** `unit`: the packet's own unit where it differs from the measurement's usual one (BTHome 0x48: mL) */
  #describe(key: string, value: number | boolean | string, unit: string | undefined): EntityDescription {
    const meta = this.#decoder.measurement(key);
    const platform =
      meta?.platform ??
      (typeof value === 'boolean' ? 'binary_sensor' : typeof value === 'string' ? 'event' : 'sensor');
    const description: EntityDescription = { key, platform };
    if (meta?.device_class) description.device_class = meta.device_class;
    const chosenUnit = unit ?? meta?.unit;
    if (chosenUnit) description.unit = chosenUnit;
    if (meta?.state_class) description.state_class = meta.state_class;
    return description;
  }

  /** Devices not heard for a few of their intervals go offline; they come back with their next advertisement. */
  #sweepStale(): void {
    const now = Date.now();
    const minMs = this.d.offlineMinMs ?? 60_000;
    const intervals = this.d.offlineIntervals ?? 5;
    for (const device of this.#devices.values()) {
      if (device.pending) continue;
      const limit = Math.max(minMs, intervals * (this.#owners.intervalMs(device.mac) ?? 0));
      if (now - device.lastHeard <= limit) continue;
      // forgotten until heard again: the addresses passing by (a neighbour's sensor, a
      // rotating one) must not pile up; its entities stay in the registry
      this.#devices.delete(device.id);
      if (!device.online) continue;
      this.d.availability.deviceOffline(device.id).catch((error: unknown) => {
        this.d.log.warn({ err: error, device_id: device.id }, 'marking a BLE device offline failed');
      });
    }
    this.#owners.sweep(now);
    this.#proxies.sweep(now, 2 * this.#owners.o.forgetMs);
    this.#m.proxies.set(this.#proxies.count(now));
  }

  #reject(reason: BleRejectReason, key: string, message: string, fields: Record<string, unknown> = {}): void {
    this.#m.rejected.inc({ reason });
    this.#log.warn(key, { ...fields, reason }, message);
  }
}

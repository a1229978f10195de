// The Home Assistant import (issue 14): one connection to Home Assistant's WebSocket
// API through its own client library. The entities of one Home Assistant device (its
// device registry) become one device `ha-device-<its id>` of ours; an entity without a
// device becomes a device `ha-<entity id>` of its own. States on sentinel.state.*, commands as
// call_service confirmed by the state Home Assistant then reports. Runs on the node
// holding the `ha_import` lock; reconnects with backoff; availability follows the
// connection and Home Assistant's `unavailable`.
import { createHash } from 'node:crypto';
import { setTimeout as delayMs } from 'node:timers/promises';
import type { EntityDescription, ReadingValue } from '@sentinel/firmware';
import {
  type Connection,
  callService,
  createConnection,
  createLongLivedTokenAuth,
  type HassEntities,
  subscribeEntities,
} from 'home-assistant-js-websocket';
import { z } from 'zod';
import { type Logger, ThrottledLog } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Availability } from '../../model/availability.js';
import { isWinningReading } from '../../model/bindings.js';
import { type CommandReply, type CommandRequest, failure } from '../../model/commands.js';
import type { Binding } from '../../model/records.js';
import type { Registry } from '../../model/registry.js';
import type { StatePublisher } from '../../model/state.js';
import type { EntityFilter } from './filter.js';
import { domainOf, type HaState, haServiceCall, parseHaState } from './mapping.js';
import { wsSocketFactory } from './socket.js';

export const HA_PROTOCOL = 'ha';

/** `ha-device-<id>`: Home Assistant's device ids are 32 hex digits, so this never meets an entity's id below. */
export function haGroupDeviceId(haDeviceId: string): string {
  const slug = haDeviceId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const id = `ha-device-${slug}`;
  if (id.length <= 64) return id;
  const hash = createHash('sha256').update(haDeviceId).digest('hex').slice(0, 8);
  return `ha-device-${slug.slice(0, 45)}-${hash}`;
}

/** `ha-<entity id>` with the dot as a dash (HA entity ids are [a-z0-9_] around one dot, so this is one-to-one); a long one is cut and given a hash. */
export function haDeviceId(entityId: string): string {
  const slug = entityId
    .toLowerCase()
    .replace(/\./g, '-')
    .replace(/[^a-z0-9_-]/g, '_');
  const id = `ha-${slug}`;
  if (id.length <= 64) return id;
  const hash = createHash('sha256').update(entityId).digest('hex').slice(0, 8);
  return `ha-${slug.slice(0, 52)}-${hash}`;
}

export interface HaImportOptions {
  url: string;
  token: string;
  filter: EntityFilter;
  registry: Registry;
  state: StatePublisher;
  availability: Availability;
  metrics: Metrics;
  log: Logger;
  /** first retry after a failed connection; it doubles up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** how often a live connection is pinged; no pong in time means reconnect */
  pingMs?: number;
}

const RegistryEntrySchema = z.looseObject({
  entity_id: z.string(),
  unique_id: z.string().nullish(),
  platform: z.string().nullish(),
  area_id: z.string().nullish(),
  device_id: z.string().nullish(),
});
type RegistryEntry = z.infer<typeof RegistryEntrySchema>;

const text = z
  .string()
  .nullish()
  .transform((v) => (v ? v.slice(0, 64) : undefined));
/** config/device_registry/list: what a device of ours is named and described by. */
const DeviceEntrySchema = z.looseObject({
  id: z.string().min(1),
  name: text,
  name_by_user: text,
  manufacturer: text,
  model: text,
  sw_version: text,
  area_id: z.string().nullish(),
});
type DeviceEntry = z.infer<typeof DeviceEntrySchema>;

/** Home Assistant's result error codes → ours (CONTRACT.md §3). */
function replyForError(error: unknown): CommandReply {
  const parsed = z
    .looseObject({ code: z.union([z.string(), z.number()]), message: z.string() })
    .safeParse(error);
  if (!parsed.success) return failure('unavailable', 'the connection to Home Assistant was lost');
  const { code, message } = parsed.data;
  if (code === 'invalid_format') return failure('invalid', `Home Assistant: ${message}`);
  // numbers are the library's own: the connection was lost under the call
  if (typeof code === 'number') return failure('unavailable', `Home Assistant: ${message}`);
  return failure('rejected', `Home Assistant (${code}): ${message}`);
}

/** A device of ours: one Home Assistant device (all its entities), or one entity without a device. */
interface Group {
  deviceId: string;
  /** the device record's description (name, model, manufacturer, sw_version, the Home Assistant id) */
  description: { name: string; [field: string]: unknown };
  /** registration and availability changes, one after the other; readings wait for it */
  ready: Promise<void>;
  online: boolean;
  /** binding key → entity */
  members: Map<string, Tracked>;
}

interface Tracked {
  haId: string;
  key: string;
  group: Group;
  /** Home Assistant does not say `unavailable` for it */
  available: boolean;
  lastPublished: string | undefined;
}

interface Waiter {
  haId: string;
  check(next: HaState): boolean;
  resolve(): void;
}

export class HaImporter {
  #conn: Connection | undefined;
  #unsubscribe: (() => void) | undefined;
  #entities: HassEntities = {};
  #registryEntries = new Map<string, RegistryEntry>();
  #deviceEntries = new Map<string, DeviceEntry>();
  #registryFetch: Promise<void> | undefined;
  readonly #tracked = new Map<string, Tracked>();
  readonly #groups = new Map<string, Group>();
  /** HA entity id → why it was last skipped (counted once per reason until imported) */
  readonly #skipped = new Map<string, string>();
  readonly #waiters = new Set<Waiter>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  readonly #warn: ThrottledLog;

  constructor(private readonly o: HaImportOptions) {
    this.#warn = new ThrottledLog(o.log);
  }

  get #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    clearInterval(this.#pingTimer);
    this.#unsubscribe?.();
    this.#conn?.close();
    await this.#loop;
    await Promise.allSettled([...this.#groups.values()].map((g) => g.ready));
    await this.#allOffline();
  }

  isOnline = (deviceId: string): boolean => this.#groups.get(deviceId)?.online === true;

  /** A sentinel.cmd for one of our HA devices: call_service, then wait for Home Assistant's state to confirm it. */
  async send(binding: Binding, request: CommandRequest, timeoutMs: number): Promise<CommandReply> {
    const reply = await this.#send(binding, request, timeoutMs);
    this.o.metrics.haImportCommands.inc({ result: reply.ok ? 'ok' : reply.error.code });
    return reply;
  }

  async #send(binding: Binding, request: CommandRequest, timeoutMs: number): Promise<CommandReply> {
    const tracked = this.#groups.get(binding.device_id)?.members.get(binding.key);
    const conn = this.#conn;
    const before = tracked && (this.#entities[tracked.haId] as HaState | undefined);
    if (!tracked || !conn?.connected || !before || !tracked.group.online || !tracked.available)
      return failure('unavailable', `${binding.device_id} is not reachable in Home Assistant`);
    const mapped = haServiceCall(tracked.haId, request);
    if (!mapped.ok) return failure(mapped.code, mapped.message);
    const { call } = mapped;
    // registered before the call: Home Assistant may send the new state before the result
    let confirmedEarly = false;
    let resolveConfirmed!: () => void;
    const confirmed = new Promise<void>((resolve) => {
      resolveConfirmed = resolve;
    });
    const waiter: Waiter = {
      haId: tracked.haId,
      check: (next) => call.confirmed(next, before),
      resolve: () => {
        confirmedEarly = true;
        resolveConfirmed();
      },
    };
    this.#waiters.add(waiter);
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const result = await Promise.race([
        callService(conn, domainOf(tracked.haId), call.service, call.data, { entity_id: tracked.haId }).then(
          () => 'ok' as const,
          (error: unknown) => replyForError(error),
        ),
        deadline,
      ]);
      if (result === 'timeout') return failure('timeout', 'Home Assistant did not answer the call in time');
      if (result !== 'ok') return result;
      const now = this.#entities[tracked.haId] as HaState | undefined;
      if (confirmedEarly || (now && call.confirmed(now, before))) return { ok: true };
      const outcome = await Promise.race([confirmed.then(() => 'ok' as const), deadline]);
      return outcome === 'ok'
        ? { ok: true }
        : failure('timeout', `Home Assistant accepted ${call.service} but ${tracked.haId} did not change`);
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(waiter);
    }
  }

  async #run(): Promise<void> {
    const base = this.o.backoffMs ?? 500;
    let delay = base;
    while (!this.#stopped) {
      const lost = await this.#session();
      if (this.#stopped) return;
      if (lost === 'was_up') delay = base;
      await Promise.race([
        delayMs(delay * (0.5 + Math.random() / 2), undefined, { signal: this.#stop.signal }).catch(
          () => undefined,
        ),
        this.#stopped$(),
      ]);
      delay = Math.min(delay * 2, this.o.maxBackoffMs ?? 30_000);
    }
  }

  /** One connection, from connecting until it is lost for good; says whether it was ever up. */
  async #session(): Promise<'never_up' | 'was_up'> {
    const auth = createLongLivedTokenAuth(this.o.url.replace(/\/+$/, ''), this.o.token);
    const createSocket = wsSocketFactory({
      authInvalid: (message) => this.#failed('auth_invalid', message),
      cannotConnect: (message) => this.#failed('cannot_connect', message),
    });
    let conn: Connection;
    try {
      conn = await createConnection({ auth, createSocket, setupRetry: 0 });
    } catch {
      return 'never_up';
    }
    if (this.#stopped) {
      conn.close();
      return 'was_up';
    }
    this.#conn = conn;
    this.o.metrics.haImportConnected.set(1);
    this.o.log.info({ url: this.o.url, ha_version: conn.haVersion }, 'connected to Home Assistant');
    const ended = new Promise<void>((resolve) => {
      conn.addEventListener('disconnected', () => {
        this.o.metrics.haImportConnected.set(0);
        this.o.metrics.haImportFailures.inc({ reason: 'lost' });
        this.o.log.warn({ url: this.o.url }, 'lost the connection to Home Assistant; reconnecting');
        void this.#allOffline();
      });
      conn.addEventListener('ready', () => {
        // the library resubscribed; the registry may have changed while we were away
        this.o.metrics.haImportConnected.set(1);
        this.o.log.info('reconnected to Home Assistant');
        void this.#fetchRegistry();
      });
      // the library gives up reconnecting only when the token is refused: start over with backoff
      conn.addEventListener('reconnect-error', () => resolve());
    });
    await this.#fetchRegistry();
    this.#unsubscribe = subscribeEntities(conn, (entities) => this.#onEntities(entities));
    this.#pingTimer = setInterval(() => {
      if (!conn.connected) return;
      const timeout = setTimeout(() => conn.reconnect(true), 10_000);
      conn.ping().then(
        () => clearTimeout(timeout),
        () => clearTimeout(timeout),
      );
    }, this.o.pingMs ?? 30_000);
    this.#pingTimer.unref();
    await Promise.race([ended, this.#stopped$()]);
    clearInterval(this.#pingTimer);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    conn.close();
    this.#conn = undefined;
    this.#entities = {};
    this.o.metrics.haImportConnected.set(0);
    await this.#allOffline();
    return 'was_up';
  }

  /** Resolves when the import is stopped. */
  #stopped$(): Promise<void> {
    const signal = this.#stop.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  #failed(reason: 'auth_invalid' | 'cannot_connect', message: string): void {
    this.o.metrics.haImportFailures.inc({ reason });
    this.#warn.warn(
      `ha-import:${reason}`,
      { url: this.o.url, reason, detail: message },
      reason === 'auth_invalid'
        ? 'Home Assistant refused the access token (check --ha-token / --ha-token-file)'
        : 'cannot connect to Home Assistant',
    );
  }

  /**
   * config/entity_registry/list (unique ids: our own entities come back with ours; areas;
   * devices) and config/device_registry/list (names, makers, areas of the devices).
   */
  #fetchRegistry(): Promise<void> {
    this.#registryFetch ??= (async () => {
      const conn = this.#conn;
      if (!conn) return;
      try {
        const [entities, devices] = await Promise.all([
          conn.sendMessagePromise<unknown>({ type: 'config/entity_registry/list' }),
          conn.sendMessagePromise<unknown>({ type: 'config/device_registry/list' }),
        ]);
        const next = new Map<string, RegistryEntry>();
        for (const raw of z.array(z.unknown()).parse(entities)) {
          const entry = RegistryEntrySchema.safeParse(raw);
          if (entry.success) next.set(entry.data.entity_id, entry.data);
        }
        const nextDevices = new Map<string, DeviceEntry>();
        for (const raw of z.array(z.unknown()).parse(devices)) {
          const entry = DeviceEntrySchema.safeParse(raw);
          if (entry.success) nextDevices.set(entry.data.id, entry.data);
        }
        this.#registryEntries = next;
        this.#deviceEntries = nextDevices;
      } catch (error) {
        // without the registry (a non-admin token) loops are still caught by the unique id… only if known: say so
        this.#warn.warn(
          'ha-import:registry',
          { err: error },
          'cannot read the Home Assistant entity registry',
        );
      }
    })().finally(() => {
      this.#registryFetch = undefined;
    });
    return this.#registryFetch;
  }

  #onEntities(entities: HassEntities): void {
    const previous = this.#entities;
    this.#entities = entities;
    const unknown = Object.keys(entities).some(
      (id) => !this.#registryEntries.has(id) && !this.#tracked.has(id),
    );
    const handle = () => {
      if (this.#stopped || this.#entities !== entities) return;
      for (const [id, ha] of Object.entries(entities)) {
        if (previous[id] === ha) continue;
        this.#onState(ha as HaState);
        for (const waiter of this.#waiters)
          if (waiter.haId === id && waiter.check(ha as HaState)) waiter.resolve();
      }
    };
    // a new entity may be one we export, just created by Home Assistant's MQTT integration:
    // look it up in the registry first so it is never imported back
    if (unknown) void this.#fetchRegistry().then(handle);
    else handle();
  }

  #onState(ha: HaState): void {
    const haId = ha.entity_id;
    const entry = this.#registryEntries.get(haId);
    if (entry?.unique_id && this.o.registry.entity(entry.unique_id)) {
      this.#skip(haId, 'exported_by_us', 'one of our own entities, exported to Home Assistant', 'debug');
      return;
    }
    const haDevice = entry?.device_id ? this.#deviceEntries.get(entry.device_id) : undefined;
    // the entity's own area wins over its device's, as in Home Assistant
    const area = entry?.area_id ?? haDevice?.area_id;
    if (!this.o.filter.chosen({ entity_id: haId, area_id: area })) return;
    const tracked = this.#tracked.get(haId);
    if (ha.state === 'unavailable') {
      if (tracked?.available) {
        tracked.available = false;
        this.#updateOnline(tracked.group);
      }
      return;
    }
    const parsed = parseHaState(ha);
    if (!parsed.ok) {
      this.#skip(haId, parsed.reason, parsed.message);
      return;
    }
    if (!parsed.read.ok) {
      this.#skip(haId, parsed.read.reason, parsed.read.message);
      return;
    }
    this.#skipped.delete(haId);
    // grouped by the device it had when first seen: its ids stay put while this runs
    const current = tracked ?? this.#track(haId, haDevice, parsed.description.name ?? haId);
    const description: EntityDescription = { ...parsed.description, key: current.key };
    const group = current.group;
    const value = parsed.read.value;
    const ts = Math.round(Date.parse(ha.last_updated)) || Date.now();
    group.ready = group.ready
      .then(async () => {
        await this.o.registry.ensureEntities(HA_PROTOCOL, group.deviceId, group.description.name, [
          description,
        ]);
        current.available = true;
        await this.#applyOnline(group);
        if (value === undefined || this.#stopped) return;
        this.#publish(current, description.key, value, ts);
      })
      .catch((error: unknown) => {
        this.#warn.warn(
          `ha-import:register:${haId}`,
          { err: error, entity_id: haId },
          'importing a Home Assistant entity failed',
        );
      });
  }

  /** The first state of an entity: its device of ours (shared with the rest of its Home Assistant device). */
  #track(haId: string, haDevice: DeviceEntry | undefined, entityName: string): Tracked {
    const deviceId = haDevice ? haGroupDeviceId(haDevice.id) : haDeviceId(haId);
    let group = this.#groups.get(deviceId);
    if (!group) {
      const description: Group['description'] = haDevice
        ? {
            name: haDevice.name_by_user ?? haDevice.name ?? haId,
            model: haDevice.model ?? 'Home Assistant device',
            manufacturer: haDevice.manufacturer ?? 'Home Assistant',
            ...(haDevice.sw_version ? { sw_version: haDevice.sw_version } : {}),
            ha_device_id: haDevice.id,
          }
        : { name: entityName, model: domainOf(haId), manufacturer: 'Home Assistant', ha_entity_id: haId };
      group = { deviceId, description, ready: Promise.resolve(), online: false, members: new Map() };
      this.#groups.set(deviceId, group);
    }
    // on a device of its own the key is the domain; among a device's entities, the entity id
    const key = haDevice ? haId : domainOf(haId);
    const tracked: Tracked = { haId, key, group, available: false, lastPublished: undefined };
    group.members.set(key, tracked);
    this.#tracked.set(haId, tracked);
    return tracked;
  }

  /** A device is online while connected and any of its entities is not `unavailable` in Home Assistant. */
  #updateOnline(group: Group): void {
    group.ready = group.ready.then(() => this.#applyOnline(group)).catch(() => undefined);
  }

  async #applyOnline(group: Group): Promise<void> {
    const online =
      !this.#stopped &&
      this.#conn?.connected === true &&
      [...group.members.values()].some((m) => m.available);
    if (online === group.online) return;
    group.online = online;
    if (online)
      await this.o.availability.deviceOnline({
        id: group.deviceId,
        protocol: HA_PROTOCOL,
        ...group.description,
      });
    else await this.o.availability.deviceOffline(group.deviceId).catch(() => undefined);
  }

  #publish(tracked: Tracked, key: string, value: ReadingValue, ts: number): void {
    const deviceId = tracked.group.deviceId;
    const entity = this.o.registry.entityFor(HA_PROTOCOL, deviceId, key);
    if (!entity) return;
    // a reconnect hands every state over again: the same reading is not history twice
    const fingerprint = JSON.stringify([value, ts]);
    if (tracked.lastPublished === fingerprint) return;
    tracked.lastPublished = fingerprint;
    const source = { protocol: HA_PROTOCOL, device_id: deviceId, key };
    if (!isWinningReading(entity, source, this.o.availability.isOnline)) return;
    this.o.availability.touch(deviceId);
    void this.o.state.publish({
      entity_id: entity.id,
      value,
      ts,
      ...(entity.unit === undefined ? {} : { unit: entity.unit }),
      source,
    });
  }

  #skip(haId: string, reason: string, message: string, level: 'warn' | 'debug' = 'warn'): void {
    // counted once per entity and reason until it is imported, not on every state change
    if (this.#skipped.get(haId) === reason) return;
    this.#skipped.set(haId, reason);
    this.o.metrics.haImportSkipped.inc({ reason });
    if (level === 'debug') this.o.log.debug({ entity_id: haId, reason }, message);
    else
      this.#warn.warn(
        `ha-import:${reason}:${haId}`,
        { entity_id: haId, reason, detail: message },
        'Home Assistant entity skipped',
      );
  }

  async #allOffline(): Promise<void> {
    await Promise.all(
      [...this.#groups.values()].map(async (group) => {
        // a reconnect hands every state over again, which says what is available
        for (const member of group.members.values()) member.available = false;
        this.#updateOnline(group);
        await group.ready;
      }),
    );
  }
}

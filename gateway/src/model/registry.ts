// The entity registry: devices and entities with stable UUIDv7 ids, kept in KV
// (sentinel_entities, sentinel_devices) and mirrored in memory by KV watches, so the
// reading path resolves a binding with one Map lookup. An id is claimed first-writer-
// wins in sentinel_bindings, so two nodes (or a restart mid-hello) never fork it.
import type { KV } from '@nats-io/kv';
import type { EntityDescription } from '@sentinel/firmware';
import { v7 as uuidv7 } from 'uuid';
import { mirrorBucket } from '../bus/mirror.js';
import type { Logger } from '../log.js';
import { BindingIndex } from './binding-index.js';
import {
  type Binding,
  bindingKey,
  DEFAULT_PRIORITY,
  type DeviceRecord,
  DeviceRecordSchema,
  type EntityRecord,
  EntityRecordSchema,
} from './records.js';

/** A record that changed (record undefined: deleted), for whoever shows the registry live (the HTTP live feed). */
export type RegistryChange =
  | { kind: 'entity'; id: string; record: EntityRecord | undefined }
  | { kind: 'device'; id: string; record: DeviceRecord | undefined };

export class UnknownRecordError extends Error {
  override name = 'UnknownRecordError';
}

export interface RegistryBuckets {
  entities: KV;
  devices: KV;
  bindings: KV;
}

export interface DeviceDescription {
  id: string;
  protocol: string;
  name: string;
  model?: string | undefined;
  manufacturer?: string | undefined;
  sw_version?: string | undefined;
  [extra: string]: unknown;
}

export class Registry {
  readonly #entities = new Map<string, EntityRecord>();
  readonly #devices = new Map<string, DeviceRecord>();
  /** device records on their way to KV: an upsert meanwhile (the hello right after a connect) compares with these */
  readonly #writingDevices = new Map<string, DeviceRecord>();
  readonly #bindings = new BindingIndex();
  readonly #stops: (() => void)[] = [];
  readonly #listeners = new Set<(change: RegistryChange) => void>();

  private constructor(
    private readonly kv: RegistryBuckets,
    private readonly log: Logger,
  ) {}

  static async start(kv: RegistryBuckets, log: Logger): Promise<Registry> {
    const registry = new Registry(kv, log);
    registry.#stops.push(
      ...(await Promise.all([
        mirrorBucket(kv.entities, (key, value) => registry.#applyEntity(key, value)),
        mirrorBucket(kv.devices, (key, value) => registry.#applyDevice(key, value)),
      ])),
    );
    return registry;
  }

  stop(): void {
    for (const stop of this.#stops) stop();
  }

  /** Calls `listener` with every applied change (local writes and other nodes' alike); returns unsubscribe. */
  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: RegistryChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  entity(id: string): EntityRecord | undefined {
    return this.#entities.get(id);
  }

  device(id: string): DeviceRecord | undefined {
    return this.#devices.get(id);
  }

  /** The hot path: which entity a protocol's (device, key) feeds. */
  entityFor(protocol: string, deviceId: string, key: string): EntityRecord | undefined {
    const id = this.#bindings.get(protocol, deviceId, key);
    return id === undefined ? undefined : this.#entities.get(id);
  }

  /** Entities with a binding to this device. */
  entitiesOfDevice(deviceId: string): EntityRecord[] {
    return [...this.#bindings.entitiesOf(deviceId)].map((id) => this.#entities.get(id)!);
  }

  devices(): DeviceRecord[] {
    return [...this.#devices.values()];
  }

  entities(): EntityRecord[] {
    return [...this.#entities.values()];
  }

  /** Creates or updates a device record; writes only when something changed. */
  async upsertDevice(
    description: DeviceDescription,
    presence: { online: boolean; last_seen: number },
  ): Promise<DeviceRecord> {
    const current = this.#latestDevice(description.id);
    // a name a person gave (PATCH /api/devices) stays over the device's own in later hellos
    const kept = current?.named_by_user ? { name: current.name } : {};
    const next = DeviceRecordSchema.parse(
      dropUndefined({ ...current, ...description, ...kept, ...presence }),
    );
    if (!current || !sameJson(current, next)) await this.#putDevice(next);
    return next;
  }

  /**
   * Marks a device offline for `nodeId`, unless another node holds it now: a
   * compare-and-set on the record, so a device that moved to another node (which
   * wrote its own node_id meanwhile) stays online. False when nothing was written.
   */
  async markOffline(deviceId: string, nodeId: string, lastSeen: number): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await this.kv.devices.get(deviceId);
      if (entry?.operation !== 'PUT') return false;
      const current = DeviceRecordSchema.safeParse(entry.json()).data;
      if (!current || (current.node_id !== undefined && current.node_id !== nodeId)) return false;
      const next = { ...current, online: false, last_seen: lastSeen };
      try {
        await this.kv.devices.update(deviceId, JSON.stringify(next), entry.revision);
        this.#applyDevice(deviceId, next);
        return true;
      } catch {
        // written meanwhile (the device came back here or elsewhere): look again
      }
    }
    return false;
  }

  async setDevicePresence(deviceId: string, presence: { online: boolean; last_seen: number }): Promise<void> {
    const current = this.#latestDevice(deviceId);
    if (!current) return;
    await this.#putDevice({ ...current, ...presence });
  }

  /** A person's edits of a device record: name (then kept over the device's hellos) and area. */
  async editDevice(deviceId: string, edit: { name?: string | undefined; area?: string | undefined }) {
    for (let attempt = 0; ; attempt++) {
      const entry = await this.kv.devices.get(deviceId);
      const current =
        entry?.operation === 'PUT' ? DeviceRecordSchema.safeParse(entry.json()).data : undefined;
      if (!entry || !current) throw new UnknownRecordError(`no device ${deviceId}`);
      const next: DeviceRecord = {
        ...current,
        ...(edit.name !== undefined ? { name: edit.name, named_by_user: true } : {}),
        ...(edit.area !== undefined ? { area: edit.area } : {}),
      };
      try {
        await this.kv.devices.update(deviceId, JSON.stringify(next), entry.revision);
        this.#applyDevice(deviceId, next);
        return next;
      } catch (error) {
        if (attempt >= 4) throw error;
        // written meanwhile (online, last_seen): edit the newer record
      }
    }
  }

  /** Forgets a device record (its entities stay: their history and ids outlive the hardware). */
  async removeDevice(deviceId: string): Promise<boolean> {
    const entry = await this.kv.devices.get(deviceId);
    if (entry?.operation !== 'PUT') return false;
    await this.kv.devices.delete(deviceId);
    this.#applyDevice(deviceId, undefined);
    return true;
  }

  /** A person's edits of an entity: name (kept over later hellos, which never touch it) and area. */
  async editEntity(id: string, edit: { name?: string | undefined; area?: string | undefined }) {
    if (!this.#entities.has(id)) throw new UnknownRecordError(`no entity ${id}`);
    return this.#updateEntity(id, (current) => {
      if (!current) throw new UnknownRecordError(`no entity ${id}`);
      return {
        ...current,
        ...(edit.name !== undefined ? { name: edit.name } : {}),
        ...(edit.area !== undefined ? { area: edit.area } : {}),
      };
    });
  }

  /**
   * Re-binding (the hardware swap): the entity takes exactly these sources. Each source
   * is first claimed for it in sentinel_bindings (so the source's next hello feeds this
   * entity and no new one), then taken off any other entity that had it; sources the
   * entity gives up are released, so their device gets a fresh entity if it comes back.
   */
  async setBindings(id: string, bindings: Binding[]): Promise<EntityRecord> {
    const entity = this.#entities.get(id);
    if (!entity) throw new UnknownRecordError(`no entity ${id}`);
    const key = (b: Binding) => bindingKey(b.protocol, b.device_id, b.key);
    const wanted = new Set(bindings.map(key));
    for (const b of bindings) await this.kv.bindings.put(key(b), id);
    for (const other of this.#entities.values()) {
      if (other.id === id || !other.bindings.some((b) => wanted.has(key(b)))) continue;
      await this.#updateEntity(other.id, (current) =>
        current ? { ...current, bindings: current.bindings.filter((b) => !wanted.has(key(b))) } : other,
      );
    }
    for (const b of entity.bindings) if (!wanted.has(key(b))) await this.kv.bindings.delete(key(b));
    const primary = [...bindings].sort((a, b) => b.priority - a.priority)[0];
    return this.#updateEntity(id, (current) => {
      if (!current) throw new UnknownRecordError(`no entity ${id}`);
      return { ...current, bindings, ...(primary ? { device_id: primary.device_id } : {}) };
    });
  }

  /**
   * Makes sure every described entity of a device exists and is bound to it,
   * keeping existing ids. What the device describes (platform, unit, classes,
   * ranges) follows the device; the name is set once, so a rename on the
   * platform stays. Returns the entities by key.
   */
  async ensureEntities(
    protocol: string,
    deviceId: string,
    deviceName: string,
    descriptions: readonly EntityDescription[],
  ): Promise<Map<string, EntityRecord>> {
    const result = new Map<string, EntityRecord>();
    await Promise.all(
      descriptions.map(async (description) => {
        const binding: Binding = {
          protocol,
          device_id: deviceId,
          key: description.key,
          priority: DEFAULT_PRIORITY[protocol] ?? 0,
        };
        const id = await this.#claimId(binding);
        const described = dropUndefined({
          platform: description.platform,
          device_class: description.device_class,
          unit: description.unit,
          state_class: description.state_class,
          min: description.min,
          max: description.max,
          step: description.step,
          options: description.options,
        });
        const merge = (current: EntityRecord | undefined): EntityRecord => {
          const next: EntityRecord = current
            ? { ...current, ...described }
            : EntityRecordSchema.parse({
                id,
                name: description.name ?? `${deviceName} ${humanize(description.key)}`,
                device_id: deviceId,
                ...described,
                bindings: [],
              });
          const bound = next.bindings.some(
            (b) => b.protocol === protocol && b.device_id === deviceId && b.key === description.key,
          );
          return bound ? next : { ...next, bindings: [...next.bindings, binding] };
        };
        // the common case (a device saying hello again) needs no write at all
        const known = this.#entities.get(id);
        if (known && sameJson(known, merge(known))) {
          result.set(description.key, known);
          return;
        }
        result.set(description.key, await this.#updateEntity(id, merge));
      }),
    );
    return result;
  }

  /**
   * Read, change, write with the KV revision (compare-and-set), so an edit made
   * meanwhile by another node or the platform (a re-binding, a priority) is
   * built upon, never overwritten.
   */
  async #updateEntity(
    id: string,
    change: (current: EntityRecord | undefined) => EntityRecord,
  ): Promise<EntityRecord> {
    for (let attempt = 0; ; attempt++) {
      const entry = await this.kv.entities.get(id);
      const stored = entry?.operation === 'PUT' ? EntityRecordSchema.safeParse(entry.json()).data : undefined;
      const next = change(stored);
      if (stored && sameJson(stored, next)) {
        this.#applyEntity(id, stored);
        return stored;
      }
      try {
        if (entry) await this.kv.entities.update(id, JSON.stringify(next), entry.revision);
        else await this.kv.entities.create(id, JSON.stringify(next));
        this.#applyEntity(id, next);
        return next;
      } catch (error) {
        if (attempt >= 4) throw error;
        // someone wrote in between: read again and rebuild on their version
      }
    }
  }

  async #claimId(binding: Binding): Promise<string> {
    const known = this.#bindings.get(binding.protocol, binding.device_id, binding.key);
    if (known) return known;
    const key = bindingKey(binding.protocol, binding.device_id, binding.key);
    const id = uuidv7();
    try {
      await this.kv.bindings.create(key, id);
      return id;
    } catch (error) {
      const existing = await this.kv.bindings.get(key);
      if (existing?.operation === 'PUT') return existing.string();
      throw error;
    }
  }

  /** What this node last wrote or saw of a device: a write still under way counts (writes build on it). */
  #latestDevice(id: string): DeviceRecord | undefined {
    return this.#writingDevices.get(id) ?? this.#devices.get(id);
  }

  async #putDevice(record: DeviceRecord): Promise<void> {
    this.#writingDevices.set(record.id, record);
    try {
      await this.kv.devices.put(record.id, JSON.stringify(record));
      this.#applyDevice(record.id, record);
    } finally {
      if (this.#writingDevices.get(record.id) === record) this.#writingDevices.delete(record.id);
    }
  }

  #applyEntity(key: string, value: unknown): void {
    let next: EntityRecord | undefined;
    if (value !== undefined) {
      const parsed = EntityRecordSchema.safeParse(value);
      if (!parsed.success) {
        // keep what we had: a bad write by someone else must not unbind a working entity
        this.log.warn(
          { entity_id: key, issue: parsed.error.issues[0] },
          'ignoring an invalid record in sentinel_entities',
        );
        return;
      }
      next = parsed.data;
    }
    const previous = this.#entities.get(key);
    if (previous) this.#bindings.remove(previous);
    if (next) {
      this.#entities.set(key, next);
      this.#bindings.add(next);
    } else {
      this.#entities.delete(key);
    }
    if (previous || next) this.#emit({ kind: 'entity', id: key, record: next });
  }

  #applyDevice(key: string, value: unknown): void {
    if (value === undefined) {
      if (this.#devices.delete(key)) this.#emit({ kind: 'device', id: key, record: undefined });
      return;
    }
    const parsed = DeviceRecordSchema.safeParse(value);
    if (parsed.success) {
      this.#devices.set(key, parsed.data);
      this.#emit({ kind: 'device', id: key, record: parsed.data });
    } else
      this.log.warn(
        { device_id: key, issue: parsed.error.issues[0] },
        'ignoring an invalid record in sentinel_devices',
      );
  }
}

const humanize = (key: string) => key.replace(/[_-]+/g, ' ').replace(/^./, (c) => c.toUpperCase());

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// The entity registry: devices and entities with stable UUIDv7 ids, kept in KV
// (sentinel_entities, sentinel_devices) and mirrored in memory by KV watches, so the
// reading path resolves a binding with one Map lookup. An id is claimed first-writer-
// wins in sentinel_bindings, so two nodes (or a restart mid-hello) never fork it.
import type { KV } from '@nats-io/kv';
import type { EntityDescription } from '@sentinel/firmware';
import { v7 as uuidv7 } from 'uuid';
import { mirrorBucket } from '../bus/mirror.js';
import type { Logger } from '../log.js';
import {
  type Binding,
  bindingKey,
  DEFAULT_PRIORITY,
  type DeviceRecord,
  DeviceRecordSchema,
  type EntityRecord,
  EntityRecordSchema,
} from './records.js';

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
  /** protocol → device → key → entity id, for every binding of every entity (no key strings built per reading) */
  readonly #byBinding = new Map<string, Map<string, Map<string, string>>>();
  readonly #stops: (() => void)[] = [];

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

  entity(id: string): EntityRecord | undefined {
    return this.#entities.get(id);
  }

  device(id: string): DeviceRecord | undefined {
    return this.#devices.get(id);
  }

  /** The hot path: which entity a protocol's (device, key) feeds. */
  entityFor(protocol: string, deviceId: string, key: string): EntityRecord | undefined {
    const id = this.#byBinding.get(protocol)?.get(deviceId)?.get(key);
    return id === undefined ? undefined : this.#entities.get(id);
  }

  /** Entities with a binding to this device. */
  entitiesOfDevice(deviceId: string): EntityRecord[] {
    return [...this.#entities.values()].filter((e) => e.bindings.some((b) => b.device_id === deviceId));
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
    const current = this.#devices.get(description.id);
    const next = DeviceRecordSchema.parse(dropUndefined({ ...current, ...description, ...presence }));
    if (!current || !sameJson(current, next)) await this.#putDevice(next);
    return next;
  }

  async setDevicePresence(deviceId: string, presence: { online: boolean; last_seen: number }): Promise<void> {
    const current = this.#devices.get(deviceId);
    if (!current) return;
    await this.#putDevice({ ...current, ...presence });
  }

  /**
   * Makes sure every described entity of a device exists with a binding, keeping
   * existing ids; updates descriptive fields that changed. Returns them by key.
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
        const current = this.#entities.get(id);
        const described = dropUndefined({
          name: description.name ?? `${deviceName} ${humanize(description.key)}`,
          platform: description.platform,
          device_class: description.device_class,
          unit: description.unit,
          state_class: description.state_class,
          min: description.min,
          max: description.max,
          step: description.step,
          options: description.options,
        });
        const next: EntityRecord = current
          ? { ...current, ...described }
          : EntityRecordSchema.parse({ id, device_id: deviceId, ...described, bindings: [binding] });
        if (
          !next.bindings.some(
            (b) => b.protocol === protocol && b.device_id === deviceId && b.key === description.key,
          )
        ) {
          next.bindings = [...next.bindings, binding];
        }
        if (!current || !sameJson(current, next)) await this.#putEntity(next);
        result.set(description.key, next);
      }),
    );
    return result;
  }

  async #claimId(binding: Binding): Promise<string> {
    const known = this.#byBinding.get(binding.protocol)?.get(binding.device_id)?.get(binding.key);
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

  async #putEntity(record: EntityRecord): Promise<void> {
    await this.kv.entities.put(record.id, JSON.stringify(record));
    this.#applyEntity(record.id, record);
  }

  async #putDevice(record: DeviceRecord): Promise<void> {
    await this.kv.devices.put(record.id, JSON.stringify(record));
    this.#applyDevice(record.id, record);
  }

  #applyEntity(key: string, value: unknown): void {
    const previous = this.#entities.get(key);
    for (const b of previous?.bindings ?? [])
      this.#byBinding.delete(bindingKey(b.protocol, b.device_id, b.key));
    if (value === undefined) {
      this.#entities.delete(key);
      return;
    }
    const parsed = EntityRecordSchema.safeParse(value);
    if (!parsed.success) {
      this.log.warn(
        { entity_id: key, issue: parsed.error.issues[0] },
        'ignoring an invalid record in sentinel_entities',
      );
      return;
    }
    this.#entities.set(key, parsed.data);
    for (const b of parsed.data.bindings) this.#index(b, key);
  }

  #index(binding: Binding, entityId: string): void {
    let devices = this.#byBinding.get(binding.protocol);
    if (!devices) {
      devices = new Map();
      this.#byBinding.set(binding.protocol, devices);
    }
    let keys = devices.get(binding.device_id);
    if (!keys) {
      keys = new Map();
      devices.set(binding.device_id, keys);
    }
    keys.set(binding.key, entityId);
  }

  #applyDevice(key: string, value: unknown): void {
    if (value === undefined) {
      this.#devices.delete(key);
      return;
    }
    const parsed = DeviceRecordSchema.safeParse(value);
    if (parsed.success) this.#devices.set(key, parsed.data);
    else
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

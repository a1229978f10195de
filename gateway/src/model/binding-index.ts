// Which entity each binding feeds, and which entities bind a device: the two
// questions asked per reading and per availability change, answered by map
// lookups instead of key strings built or every entity scanned.
import type { EntityRecord } from './records.js';

const NONE: ReadonlySet<string> = new Set();

export class BindingIndex {
  /** protocol → device → key → entity id */
  readonly #byKey = new Map<string, Map<string, Map<string, string>>>();
  /** device → ids of the entities bound to it */
  readonly #byDevice = new Map<string, Set<string>>();

  get(protocol: string, deviceId: string, key: string): string | undefined {
    return this.#byKey.get(protocol)?.get(deviceId)?.get(key);
  }

  entitiesOf(deviceId: string): ReadonlySet<string> {
    return this.#byDevice.get(deviceId) ?? NONE;
  }

  add(entity: EntityRecord): void {
    for (const b of entity.bindings) {
      getOrCreate(
        getOrCreate(this.#byKey, b.protocol, () => new Map()),
        b.device_id,
        () => new Map(),
      ).set(b.key, entity.id);
      getOrCreate(this.#byDevice, b.device_id, () => new Set()).add(entity.id);
    }
  }

  remove(entity: EntityRecord): void {
    for (const b of entity.bindings) {
      const keys = this.#byKey.get(b.protocol)?.get(b.device_id);
      if (keys?.get(b.key) === entity.id) keys.delete(b.key);
      this.#byDevice.get(b.device_id)?.delete(entity.id);
    }
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

// Bindings decide which source speaks for an entity: readings from the live
// highest-priority binding win, and commands go to the highest-priority online one.
import type { Binding, EntityRecord } from './records.js';

export type IsOnline = (deviceId: string) => boolean;

/** Online bindings, best first (ties keep their order in the record). */
export function onlineBindings(entity: EntityRecord, isOnline: IsOnline): Binding[] {
  return entity.bindings.filter((b) => isOnline(b.device_id)).sort((a, b) => b.priority - a.priority);
}

/**
 * Whether a reading from `source` is the one to publish: no online binding of the
 * entity outranks it. A source that is the only one (the common case) always wins.
 */
export function isWinningSource(entity: EntityRecord, source: Binding, isOnline: IsOnline): boolean {
  if (entity.bindings.length === 1) return true;
  return !entity.bindings.some(
    (b) => b.priority > source.priority && b.device_id !== source.device_id && isOnline(b.device_id),
  );
}

/**
 * Whether a reading from this protocol/device/key is the one to publish
 * (isWinningSource for the binding that carries it; no look-up for a single source).
 */
export function isWinningReading(
  entity: EntityRecord,
  reading: { protocol: string; device_id: string; key: string },
  isOnline: IsOnline,
): boolean {
  if (entity.bindings.length === 1) return true;
  const source = entity.bindings.find(
    (b) => b.protocol === reading.protocol && b.device_id === reading.device_id && b.key === reading.key,
  );
  return source === undefined || isWinningSource(entity, source, isOnline);
}

export function isAvailable(entity: EntityRecord, isOnline: IsOnline): boolean {
  return entity.bindings.some((b) => isOnline(b.device_id));
}

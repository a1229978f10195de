// What an entity shows now: available or not, its value or "unknown", fresh or stale. Pure.

import type { LiveState } from './store.js';
import type { Entity, Value } from './types.js';

/** Without a learnt interval, a reading older than this is stale. */
export const DEFAULT_STALE_MS = 15 * 60_000;
/** A reading is stale after this many of its entity's usual intervals… */
export const STALE_INTERVALS = 3;
/** …but never sooner than this (devices jitter). */
export const MIN_STALE_MS = 60_000;

/** Platforms whose value is a measurement that ages; a switch or a door reports on change, so its state does not. */
const MEASURING = new Set(['sensor', 'number']);

export function staleAfter(intervalMs: number | undefined): number {
  if (intervalMs === undefined || intervalMs <= 0) return DEFAULT_STALE_MS;
  return Math.max(MIN_STALE_MS, STALE_INTERVALS * intervalMs);
}

export type Shown =
  | { kind: 'unavailable' }
  | { kind: 'unknown' }
  | { kind: 'value'; value: Exclude<Value, null>; ts: number; stale: boolean };

export function isAvailable(s: LiveState, entityId: string): boolean {
  const told = s.availability[entityId];
  if (told) return told.available;
  const entity = s.entities[entityId];
  const device = entity ? s.devices[entity.device_id] : undefined;
  return device ? device.online : true;
}

export function isMeasuring(entity: Entity): boolean {
  return MEASURING.has(entity.platform) || entity.state_class !== undefined;
}

export function shown(s: LiveState, entityId: string, now: number): Shown {
  if (!isAvailable(s, entityId)) return { kind: 'unavailable' };
  const state = s.states[entityId];
  if (!state || state.value === null) return { kind: 'unknown' };
  const entity = s.entities[entityId];
  const stale =
    entity !== undefined && isMeasuring(entity) && now - state.ts > staleAfter(s.intervals[entityId]);
  return { kind: 'value', value: state.value, ts: state.ts, stale };
}

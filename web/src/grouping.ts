// The dashboard's two views of the same entities: by device and by area. Pure.

import type { LiveState } from './store.js';
import type { Entity } from './types.js';

export type GroupBy = 'device' | 'area';

export interface Group {
  /** a stable key: the device id, or `area:<name>` */
  key: string;
  title: string;
  /** the device this group is (grouping by device) */
  deviceId?: string;
  entities: Entity[];
}

export const NO_AREA = 'No area';

const byName = (a: { name: string }, b: { name: string }) =>
  a.name.localeCompare(b.name, undefined, { sensitivity: 'base', numeric: true });

/** An entity's own area, else its device's. */
export function areaOf(s: LiveState, entity: Entity): string | undefined {
  return entity.area || s.devices[entity.device_id]?.area || undefined;
}

export function group(s: LiveState, by: GroupBy): Group[] {
  const groups = new Map<string, Group>();
  if (by === 'device') {
    for (const device of Object.values(s.devices))
      groups.set(device.id, {
        key: device.id,
        title: device.name || device.id,
        deviceId: device.id,
        entities: [],
      });
  }
  for (const entity of Object.values(s.entities)) {
    const area = areaOf(s, entity);
    const key = by === 'device' ? entity.device_id : `area:${area ?? ''}`;
    let g = groups.get(key);
    if (!g) {
      g =
        by === 'device'
          ? { key, title: entity.device_id, deviceId: entity.device_id, entities: [] }
          : { key, title: area ?? NO_AREA, entities: [] };
      groups.set(key, g);
    }
    g.entities.push(entity);
  }
  const list = [...groups.values()];
  for (const g of list) g.entities.sort(byName);
  return list.sort((a, b) => {
    // "No area" goes last
    if (by === 'area' && (a.key === 'area:') !== (b.key === 'area:')) return a.key === 'area:' ? 1 : -1;
    return a.title.localeCompare(b.title, undefined, { sensitivity: 'base', numeric: true });
  });
}

/** Every area name in use, for the area pickers. */
export function areas(s: LiveState): string[] {
  const names = new Set<string>();
  for (const d of Object.values(s.devices)) if (d.area) names.add(d.area);
  for (const e of Object.values(s.entities)) if (e.area) names.add(e.area);
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** The entities a device page lists: its own, and those bound to one of its sources. */
export function entitiesOfDevice(s: LiveState, deviceId: string): Entity[] {
  return Object.values(s.entities)
    .filter((e) => e.device_id === deviceId || e.bindings.some((b) => b.device_id === deviceId))
    .sort(byName);
}

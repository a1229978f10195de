import { describe, expect, it } from 'vitest';
import { areas, entitiesOfDevice, group, NO_AREA } from '../src/grouping.js';
import { apply, initialState } from '../src/store.js';
import type { EntityWithState } from '../src/types.js';

const e = (id: string, name: string, device_id: string, area?: string, bound?: string): EntityWithState => ({
  id,
  name,
  platform: 'sensor',
  device_id,
  ...(area ? { area } : {}),
  bindings: bound ? [{ protocol: 'ble', device_id: bound, key: 'temperature', priority: 50 }] : [],
});

const s = apply(initialState, {
  type: 'snapshot',
  devices: [
    { id: 'b', protocol: 'picket', name: 'Bedroom', online: true, last_seen: 0, area: 'Upstairs' },
    { id: 'a', protocol: 'picket', name: 'Attic', online: true, last_seen: 0 },
    { id: 'empty', protocol: 'picket', name: 'Cellar', online: false, last_seen: 0 },
  ],
  entities: [
    e('1', 'Bedroom humidity', 'b'),
    e('2', 'Bedroom temperature', 'b', 'Guest room'),
    e('3', 'Attic temperature', 'a', undefined, 'ble-aabbcc'),
    e('4', 'Orphan', 'gone'),
  ],
});

describe('grouping', () => {
  it('by device: every device, even without entities, sorted by name; unknown devices by id', () => {
    const groups = group(s, 'device');
    expect(groups.map((g) => g.title)).toEqual(['Attic', 'Bedroom', 'Cellar', 'gone']);
    expect(groups[1]?.entities.map((x) => x.id)).toEqual(['1', '2']);
  });

  it('by area: the entity’s own area, else its device’s, and “No area” last', () => {
    const groups = group(s, 'area');
    expect(groups.map((g) => g.title)).toEqual(['Guest room', 'Upstairs', NO_AREA]);
    expect(groups[1]?.entities.map((x) => x.id)).toEqual(['1']);
    expect(groups[2]?.entities.map((x) => x.id)).toEqual(['3', '4']);
  });

  it('lists the areas in use', () => {
    expect(areas(s)).toEqual(['Guest room', 'Upstairs']);
  });

  it('a device page lists the entities bound to it as well as its own', () => {
    expect(entitiesOfDevice(s, 'ble-aabbcc').map((x) => x.id)).toEqual(['3']);
    expect(entitiesOfDevice(s, 'b').map((x) => x.id)).toEqual(['1', '2']);
  });
});

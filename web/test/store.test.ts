import { describe, expect, it } from 'vitest';
import { apply, createStore, initialState, type LiveState, learnInterval } from '../src/store.js';
import type { Device, EntityWithState } from '../src/types.js';

const device: Device = {
  id: 'picket-kitchen',
  protocol: 'picket',
  name: 'Kitchen',
  online: true,
  last_seen: 1000,
};
const temperature: EntityWithState = {
  id: 'e1',
  name: 'Kitchen Temperature',
  platform: 'sensor',
  device_id: 'picket-kitchen',
  unit: '°C',
  bindings: [{ protocol: 'picket', device_id: 'picket-kitchen', key: 'temperature', priority: 100 }],
  state: { entity_id: 'e1', value: 21.5, ts: 1000 },
};
const plug: EntityWithState = {
  id: 'e2',
  name: 'Kitchen Plug',
  platform: 'switch',
  device_id: 'picket-kitchen',
  bindings: [],
  state: null,
};

const loaded = (): LiveState =>
  apply(initialState, { type: 'snapshot', entities: [temperature, plug], devices: [device] });

describe('the live store', () => {
  it('takes a snapshot apart into records and states', () => {
    const s = loaded();
    expect(s.loaded).toBe(true);
    expect(s.connection).toBe('live');
    expect(s.entities.e1).not.toHaveProperty('state');
    expect(s.states.e1?.value).toBe(21.5);
    expect(s.states.e2).toBeUndefined();
    expect(s.devices['picket-kitchen']?.name).toBe('Kitchen');
  });

  it('applies readings and learns the usual interval between them', () => {
    let s = loaded();
    s = apply(s, { type: 'state', state: { entity_id: 'e1', value: 22, ts: 11_000 } });
    expect(s.states.e1?.value).toBe(22);
    expect(s.intervals.e1).toBe(10_000);
    s = apply(s, { type: 'state', state: { entity_id: 'e1', value: 22.5, ts: 31_000 } });
    expect(s.intervals.e1).toBe(learnInterval(10_000, 20_000));
  });

  it('ignores a reading older than the one it has', () => {
    const s = loaded();
    expect(apply(s, { type: 'state', state: { entity_id: 'e1', value: 1, ts: 500 } })).toBe(s);
  });

  it('keeps availability per entity and forgets it when the device itself changes', () => {
    let s = apply(loaded(), { type: 'availability', entity_id: 'e1', available: false, ts: 2000 });
    expect(s.availability.e1?.available).toBe(false);
    s = apply(s, { type: 'device', device: { ...device, online: false, last_seen: 3000 } });
    expect(s.availability.e1).toBeUndefined();
    expect(s.devices['picket-kitchen']?.online).toBe(false);
  });

  it('updates, adds and removes entities and devices', () => {
    let s = apply(loaded(), { type: 'entity', entity: { ...plug, name: 'Coffee machine' } });
    expect(s.entities.e2?.name).toBe('Coffee machine');
    s = apply(s, { type: 'entity_removed', entity_id: 'e1' });
    expect(s.entities.e1).toBeUndefined();
    expect(s.states.e1).toBeUndefined();
    s = apply(s, { type: 'device_removed', device_id: 'picket-kitchen' });
    expect(s.devices).toEqual({});
  });

  it('lets a new snapshot replace everything, keeping what it learnt about intervals', () => {
    let s = apply(loaded(), { type: 'state', state: { entity_id: 'e1', value: 22, ts: 11_000 } });
    s = { ...s, connection: 'reconnecting' };
    s = apply(s, { type: 'snapshot', entities: [temperature], devices: [] });
    expect(Object.keys(s.entities)).toEqual(['e1']);
    expect(s.states.e1?.value).toBe(21.5);
    expect(s.devices).toEqual({});
    expect(s.intervals.e1).toBe(10_000);
    expect(s.connection).toBe('live');
  });

  it('tells subscribers about changes only', () => {
    const store = createStore(1);
    const seen: number[] = [];
    const stop = store.subscribe((v) => seen.push(v));
    store.set(1);
    store.update((v) => v + 1);
    stop();
    store.set(5);
    expect(seen).toEqual([2]);
  });
});

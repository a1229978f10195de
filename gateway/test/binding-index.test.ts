// The binding index answers per reading and per availability change, so it must
// follow every edit of an entity's bindings exactly.
import { describe, expect, it } from 'vitest';
import { BindingIndex } from '../src/model/binding-index.js';
import type { EntityRecord } from '../src/model/records.js';

const entity = (
  id: string,
  ...bindings: [protocol: string, device: string, key: string][]
): EntityRecord => ({
  id,
  name: id,
  platform: 'sensor',
  device_id: bindings[0]![1],
  bindings: bindings.map(([protocol, device_id, key]) => ({ protocol, device_id, key, priority: 0 })),
});

describe('BindingIndex', () => {
  it('finds an entity by any of its bindings and lists the entities of a device', () => {
    const index = new BindingIndex();
    index.add(entity('e1', ['picket', 'picket-a', 'temperature'], ['ble', 'ble-aabb', 'temperature']));
    index.add(entity('e2', ['picket', 'picket-a', 'relay']));
    expect(index.get('picket', 'picket-a', 'temperature')).toBe('e1');
    expect(index.get('ble', 'ble-aabb', 'temperature')).toBe('e1');
    expect(index.get('picket', 'picket-a', 'humidity')).toBeUndefined();
    expect([...index.entitiesOf('picket-a')].sort()).toEqual(['e1', 'e2']);
    expect([...index.entitiesOf('nobody')]).toEqual([]);
  });

  it('forgets the bindings an edit removed (a hardware swap) and keeps the others', () => {
    const index = new BindingIndex();
    const before = entity('e1', ['picket', 'picket-old', 'temperature']);
    index.add(before);
    const swapped = entity('e1', ['picket', 'picket-new', 'temperature']);
    index.remove(before);
    index.add(swapped);
    expect(index.get('picket', 'picket-old', 'temperature')).toBeUndefined();
    expect(index.get('picket', 'picket-new', 'temperature')).toBe('e1');
    expect([...index.entitiesOf('picket-old')]).toEqual([]);
  });

  it('does not drop a binding that another entity has taken over meanwhile', () => {
    const index = new BindingIndex();
    const first = entity('e1', ['picket', 'picket-a', 't']);
    index.add(first);
    index.add(entity('e2', ['picket', 'picket-a', 't']));
    index.remove(first);
    expect(index.get('picket', 'picket-a', 't')).toBe('e2');
  });
});

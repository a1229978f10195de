// Which source speaks for an entity with several bindings: a reading from a
// lower-priority source must not overwrite the live better one, and must take over
// when that one goes offline.
import { describe, expect, it } from 'vitest';
import { isWinningReading } from '../src/model/bindings.js';
import type { EntityRecord } from '../src/model/records.js';

const entity: EntityRecord = {
  id: 'sensor.hall_temperature',
  name: 'Hall temperature',
  platform: 'sensor',
  device_id: 'picket-hall',
  bindings: [
    { protocol: 'picket', device_id: 'picket-hall', key: 'temperature', priority: 100 },
    { protocol: 'ble', device_id: 'ble-a4c138000001', key: 'temperature', priority: 10 },
  ],
};
const picket = { protocol: 'picket', device_id: 'picket-hall', key: 'temperature' };
const ble = { protocol: 'ble', device_id: 'ble-a4c138000001', key: 'temperature' };
const online =
  (...ids: string[]) =>
  (id: string) =>
    ids.includes(id);

describe('isWinningReading', () => {
  it('drops a lower-priority reading while a better source is online', () => {
    expect(isWinningReading(entity, ble, online('picket-hall', 'ble-a4c138000001'))).toBe(false);
    expect(isWinningReading(entity, picket, online('picket-hall', 'ble-a4c138000001'))).toBe(true);
  });

  it('lets the lower-priority source speak once the better one is offline', () => {
    expect(isWinningReading(entity, ble, online('ble-a4c138000001'))).toBe(true);
  });

  it('always publishes the only source of an entity, online or not', () => {
    const single = { ...entity, bindings: [entity.bindings[1]!] };
    expect(isWinningReading(single, ble, online())).toBe(true);
  });

  it('does not drop a reading whose binding the record no longer lists', () => {
    const other = { protocol: 'ble', device_id: 'ble-a4c138000002', key: 'temperature' };
    expect(isWinningReading(entity, other, online('picket-hall'))).toBe(true);
  });
});

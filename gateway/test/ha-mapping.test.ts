// The Home Assistant platform mapping (@sentinel/devices): every platform we export
// gets the keys its Home Assistant platform requires, device classes and units are
// ones Home Assistant accepts together, and command payloads map both ways.
import {
  BLE_MEASUREMENTS,
  HA_DEVICE_CLASS_UNITS,
  HA_PLATFORMS,
  haCommandRequest,
  haComponent,
  haStatePayload,
} from '@sentinel/devices';
import { PLATFORMS } from '@sentinel/firmware';
import { describe, expect, it } from 'vitest';

const topics = { state: 's/state', command: 's/set', position: 's/position/set' };
const availability = [{ topic: 'g/status' }, { topic: 'd/availability' }];
const entity = (platform: string, extra: Record<string, unknown> = {}) => ({
  id: 'e1',
  name: 'Thing',
  platform,
  ...extra,
});

/** Keys Home Assistant's MQTT platforms require beyond the shared ones. */
const REQUIRED: Record<string, string[]> = {
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  switch: ['command_topic'],
  light: ['command_topic'],
  fan: ['command_topic'],
  lock: ['command_topic'],
  cover: [],
  number: ['command_topic'],
  select: ['command_topic', 'options'],
  text: ['command_topic'],
  button: ['command_topic'],
  event: ['state_topic', 'event_types'],
};

describe('Home Assistant platform mapping', () => {
  it('covers every platform of ours but climate, with the keys each Home Assistant platform requires', () => {
    expect(PLATFORMS.filter((p) => !HA_PLATFORMS[p])).toEqual(['climate']);
    for (const platform of PLATFORMS.filter((p) => HA_PLATFORMS[p])) {
      const c = haComponent(entity(platform, { options: ['a', 'b'] }), topics, availability)!;
      expect(c.p, platform).toBe(HA_PLATFORMS[platform]!.component);
      expect(c.unique_id).toBe('e1');
      expect(c.default_entity_id).toBe(`${c.p}.thing`);
      expect(c.availability_mode).toBe('all');
      for (const key of REQUIRED[platform]!) expect(c, `${platform}.${key}`).toHaveProperty(key);
    }
    expect(haComponent(entity('climate'), topics, availability)).toBeUndefined();
  });

  it('gives every BLE measurement a device class Home Assistant accepts with its unit', () => {
    for (const [key, meta] of Object.entries(BLE_MEASUREMENTS)) {
      const c = haComponent(entity(meta.platform, { ...meta, name: key }), topics, availability)!;
      const deviceClass = c.device_class as string | undefined;
      if (deviceClass === undefined) continue;
      expect(HA_PLATFORMS[meta.platform]!.deviceClasses, key).toContain(deviceClass);
      const units = HA_DEVICE_CLASS_UNITS[deviceClass];
      if (units && meta.unit) expect(units, key).toContain(meta.unit);
    }
  });

  it('drops a device class Home Assistant would refuse, keeping the unit', () => {
    const c = haComponent(
      entity('sensor', { device_class: 'temperature', unit: 'mV' }),
      topics,
      availability,
    )!;
    expect(c.device_class).toBeUndefined();
    expect(c.unit_of_measurement).toBe('mV');
    expect(haComponent(entity('event', { device_class: 'dimmer' }), topics, availability)!.device_class).toBe(
      undefined,
    );
  });

  it('writes states as Home Assistant reads them', () => {
    expect(haStatePayload('sensor', 21.5)).toBe('21.5');
    expect(haStatePayload('sensor', null)).toBe('None');
    expect(haStatePayload('switch', true)).toBe('ON');
    expect(haStatePayload('light', { on: false })).toBe('OFF');
    expect(haStatePayload('lock', true)).toBe('LOCKED');
    expect(haStatePayload('event', 'double_press')).toBe('{"event_type":"double_press"}');
    expect(haStatePayload('event', 'not-an-event-type')).toBeUndefined();
    expect(haStatePayload('button', null)).toBeUndefined();
  });

  it('maps command payloads to sentinel.cmd requests, refusing what does not fit', () => {
    expect(haCommandRequest(entity('switch'), 'command', 'ON')).toEqual({
      ok: true,
      request: { value: true },
    });
    expect(haCommandRequest(entity('lock'), 'command', 'UNLOCK')).toEqual({
      ok: true,
      request: { action: 'unlock' },
    });
    expect(haCommandRequest(entity('cover'), 'position', '40')).toEqual({ ok: true, request: { value: 40 } });
    expect(haCommandRequest(entity('button'), 'command', 'PRESS')).toEqual({
      ok: true,
      request: { action: 'press' },
    });
    expect(haCommandRequest(entity('number', { min: 0, max: 10 }), 'command', '7.5')).toEqual({
      ok: true,
      request: { value: 7.5 },
    });
    for (const [e, payload] of [
      [entity('switch'), 'on'],
      [entity('number', { min: 0, max: 10 }), '11'],
      [entity('number'), ''],
      [entity('select', { options: ['a'] }), 'b'],
      [entity('cover'), 'OPENED'],
    ] as const)
      expect(haCommandRequest(e, 'command', payload), `${e.platform} ${payload}`).toMatchObject({
        ok: false,
        reason: 'invalid_payload',
      });
    expect(haCommandRequest(entity('sensor'), 'command', '1')).toMatchObject({
      ok: false,
      reason: 'not_supported',
    });
  });
});

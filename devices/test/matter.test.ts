// Matter cluster ↔ entity mappings: each cluster's entity, scaling and commands, read from
// attributes as the matter server reports them; invariants across the whole table.
import { describe, expect, it } from 'vitest';
import {
  MATTER_ENTITY_MAPPINGS,
  type MatterEntity,
  matterDeviceInfo,
  matterEntities,
  matterEntityCommand,
  matterEntityValue,
} from '../src/index.js';

/** attributes of one endpoint (1 unless given) with its device type, as "e/c/a" keys */
function node(deviceType: number, clusters: Record<number, Record<number, unknown>>, endpoint = 1) {
  const attributes: Record<string, unknown> = {
    '0/40/1': 'Acme',
    '0/40/3': 'Lamp 3000',
    '0/40/5': '',
    '0/40/10': '1.2.3',
    [`${endpoint}/29/0`]: [{ 0: deviceType, 1: 1 }],
  };
  for (const [cluster, values] of Object.entries(clusters))
    for (const [attribute, value] of Object.entries(values))
      attributes[`${endpoint}/${cluster}/${attribute}`] = value;
  return attributes;
}

const entity = (attributes: Record<string, unknown>, key: string): MatterEntity => {
  const found = matterEntities(attributes).find((e) => e.key === key);
  if (!found) throw new Error(`no entity ${key} in ${matterEntities(attributes).map((e) => e.key)}`);
  return found;
};

describe('Matter clusters → entities', () => {
  it('an on/off light is a light; its OnOff commands are On, Off and Toggle', () => {
    const attributes = node(0x0100, { 6: { 0: false } });
    const light = entity(attributes, 'light-1');
    expect(light.kind).toEqual({ platform: 'light' });
    expect(light.paths).toEqual(['1/6/0']);
    expect(matterEntityValue(light)).toBe(false);
    attributes['1/6/0'] = true;
    expect(matterEntityValue(light)).toBe(true);
    expect(matterEntityCommand(light, { value: false })).toEqual({
      ok: true,
      actions: [{ kind: 'command', endpoint: 1, cluster: 6, command: 'Off', payload: {} }],
    });
    expect(matterEntityCommand(light, { action: 'toggle' })).toMatchObject({
      actions: [{ command: 'Toggle' }],
    });
    expect(matterEntityCommand(light, { value: 'bright' })).toMatchObject({ ok: false, code: 'invalid' });
  });

  it('a plug is a switch with the outlet class, and no light', () => {
    const entities = matterEntities(node(0x010a, { 6: { 0: true } }));
    expect(entities.map((e) => [e.key, e.kind])).toEqual([
      ['switch-1', { platform: 'switch', device_class: 'outlet' }],
    ]);
  });

  it('a dimmable light: brightness in percent of level 254, set with MoveToLevelWithOnOff', () => {
    const attributes = node(0x0101, { 6: { 0: true }, 8: { 0: 127, 2: 1, 3: 254 } });
    const brightness = entity(attributes, 'brightness-1');
    expect(brightness.kind).toMatchObject({ platform: 'number', unit: '%', min: 0, max: 100 });
    expect(matterEntityValue(brightness)).toBe(50);
    expect(matterEntityCommand(brightness, { value: 100 })).toMatchObject({
      actions: [{ cluster: 8, command: 'MoveToLevelWithOnOff', payload: { level: 254, transitionTime: 0 } }],
    });
    // 0 % is the minimum level, which MoveToLevelWithOnOff turns off (1.6.7.1)
    expect(matterEntityCommand(brightness, { value: 0 })).toMatchObject({
      actions: [{ payload: { level: 1 } }],
    });
    const light = entity(attributes, 'light-1');
    expect(matterEntityCommand(light, { value: { brightness: 25 } })).toMatchObject({
      actions: [{ command: 'MoveToLevelWithOnOff', payload: { level: 64 } }],
    });
    expect(matterEntityCommand(light, { value: { on: true, flash: 1 } })).toMatchObject({
      ok: false,
      code: 'invalid',
    });
    expect(matterEntityCommand(light, { value: { brightness: 120 } })).toMatchObject({
      ok: false,
      code: 'invalid',
    });
  });

  it('color temperature: mireds ↔ kelvin within the physical range', () => {
    const attributes = node(0x010c, { 6: { 0: true }, 768: { 7: 250, 16395: 153, 16396: 500 } });
    const ct = entity(attributes, 'color_temp-1');
    expect(ct.kind).toMatchObject({ platform: 'number', unit: 'K', min: 2000, max: 6536 });
    expect(matterEntityValue(ct)).toBe(4000);
    expect(matterEntityCommand(ct, { value: 10_000 })).toMatchObject({
      actions: [{ command: 'MoveToColorTemperature', payload: { colorTemperatureMireds: 153 } }],
    });
    const light = entity(attributes, 'light-1');
    expect(matterEntityCommand(light, { value: { color_temp_kelvin: 2700 } })).toMatchObject({
      actions: [
        { command: 'On' },
        { command: 'MoveToColorTemperature', payload: { colorTemperatureMireds: 370 } },
      ],
    });
    // a light without Level Control cannot dim
    expect(
      matterEntityCommand(entity(node(0x0100, { 6: { 0: true } }), 'light-1'), { value: { brightness: 5 } }),
    ).toMatchObject({
      ok: false,
      code: 'not_supported',
    });
  });

  it.each([
    // [device type, cluster, attribute, raw, key, value, kind]
    [
      0x0302,
      0x0402,
      0,
      2155,
      'temperature-1',
      21.55,
      { device_class: 'temperature', unit: '°C', state_class: 'measurement' },
    ],
    [0x0302, 0x0402, 0, -512, 'temperature-1', -5.12, { unit: '°C' }],
    [0x0302, 0x0402, 0, null, 'temperature-1', null, { unit: '°C' }],
    [0x0307, 0x0405, 0, 4650, 'humidity-1', 46.5, { device_class: 'humidity', unit: '%' }],
    [0x0107, 0x0406, 0, 1, 'occupancy-1', true, { platform: 'binary_sensor', device_class: 'occupancy' }],
    [0x0107, 0x0406, 0, 0, 'occupancy-1', false, { platform: 'binary_sensor' }],
    // contact sensor: StateValue true = closed; our door is on when open
    [0x0015, 0x0045, 0, true, 'contact-1', false, { platform: 'binary_sensor', device_class: 'door' }],
    [0x0015, 0x0045, 0, false, 'contact-1', true, { device_class: 'door' }],
    [0x0043, 0x0045, 0, true, 'leak-1', true, { device_class: 'moisture' }],
    [0x0510, 0x0090, 8, 1_234_567, 'power-1', 1234.567, { device_class: 'power', unit: 'W' }],
    [0x0510, 0x0090, 4, 230_100, 'voltage-1', 230.1, { device_class: 'voltage', unit: 'V' }],
    [0x0510, 0x0090, 5, 1500, 'current-1', 1.5, { device_class: 'current', unit: 'A' }],
    [
      0x0510,
      0x0091,
      1,
      { 0: 12_500_000 },
      'energy-1',
      12.5,
      { unit: 'kWh', state_class: 'total_increasing' },
    ],
    // int64 values arrive as bigints when large
    [0x0510, 0x0091, 1, { 0: 2n ** 60n }, 'energy-1', Number(2n ** 60n) / 1e6, { unit: 'kWh' }],
    [0x0015, 0x002f, 12, 151, 'battery-1', 75.5, { device_class: 'battery', unit: '%' }],
    [0x000a, 0x0101, 0, 1, 'lock-1', true, { platform: 'lock' }],
    [0x000a, 0x0101, 0, 2, 'lock-1', false, { platform: 'lock' }],
    [0x0202, 0x0102, 14, 2500, 'cover-1', 75, { platform: 'cover' }],
    [0x0301, 0x0201, 0, 1975, 'local_temperature-1', 19.75, { unit: '°C' }],
  ] as const)(
    'device type %i cluster %i attribute %i = %o → %s %o',
    (type, cluster, attribute, raw, key, value, kind) => {
      const found = entity(node(type, { [cluster]: { [attribute]: raw } }), key);
      expect(matterEntityValue(found)).toBe(value);
      expect(found.kind).toMatchObject(kind);
    },
  );

  it('skips values that are not what the cluster reports, instead of publishing them', () => {
    expect(matterEntityValue(entity(node(0x0302, { 1026: { 0: 'hot' } }), 'temperature-1'))).toBeUndefined();
    expect(matterEntityValue(entity(node(0x0100, { 6: { 0: 1 } }), 'light-1'))).toBeUndefined();
  });

  it('door locks: lock/unlock/open as timed invokes', () => {
    const lock = entity(node(0x000a, { 257: { 0: 1, 65532: 1 << 12 } }), 'lock-1');
    expect(matterEntityCommand(lock, { action: 'unlock' })).toEqual({
      ok: true,
      actions: [
        {
          kind: 'command',
          endpoint: 1,
          cluster: 0x0101,
          command: 'UnlockDoor',
          payload: {},
          timedMs: 10_000,
        },
      ],
    });
    expect(matterEntityCommand(lock, { value: true })).toMatchObject({ actions: [{ command: 'LockDoor' }] });
    expect(matterEntityCommand(lock, { action: 'open' })).toMatchObject({
      actions: [{ command: 'UnboltDoor' }],
    });
  });

  it('window coverings: our 100 = open is Matter 0 % closed', () => {
    const cover = entity(node(0x0202, { 258: { 14: 0 } }), 'cover-1');
    expect(matterEntityValue(cover)).toBe(100);
    expect(matterEntityCommand(cover, { value: 30 })).toMatchObject({
      actions: [{ command: 'GoToLiftPercentage', payload: { liftPercent100thsValue: 7000 } }],
    });
    expect(matterEntityCommand(cover, { action: 'stop' })).toMatchObject({
      actions: [{ command: 'StopMotion' }],
    });
    expect(matterEntityCommand(cover, { value: 101 })).toMatchObject({ ok: false, code: 'invalid' });
  });

  it('thermostats: the setpoint of the current mode, written in centi-degrees', () => {
    const attributes = node(0x0301, { 513: { 0: 2010, 17: 2600, 18: 2050, 21: 700, 22: 3000, 28: 4 } });
    const thermostat = entity(attributes, 'thermostat-1');
    expect(thermostat.kind).toMatchObject({ platform: 'climate', unit: '°C', min: 7, max: 30 });
    expect(thermostat.paths).toEqual(['1/513/18', '1/513/17', '1/513/28']);
    expect(matterEntityValue(thermostat)).toBe(20.5);
    attributes['1/513/28'] = 3;
    expect(matterEntityValue(thermostat)).toBe(26);
    expect(matterEntityCommand(thermostat, { value: { mode: 'heat', temperature: 21.5 } })).toEqual({
      ok: true,
      actions: [
        { kind: 'write', endpoint: 1, cluster: 0x0201, attribute: 0x1c, value: 4 },
        { kind: 'write', endpoint: 1, cluster: 0x0201, attribute: 0x12, value: 2150 },
      ],
    });
    expect(matterEntityCommand(thermostat, { value: { mode: 'dry' } })).toMatchObject({
      ok: false,
      code: 'invalid',
    });
  });

  it('sensors take no commands; endpoint 0 gives no entities but its power source', () => {
    const temperature = entity(node(0x0302, { 1026: { 0: 1 } }), 'temperature-1');
    expect(matterEntityCommand(temperature, { value: 1 })).toMatchObject({
      ok: false,
      code: 'not_supported',
    });
    const root = node(0x0016, { 6: { 0: true }, 47: { 12: 200 } }, 0);
    expect(matterEntities(root).map((e) => e.key)).toEqual(['battery-0']);
  });

  it('describes the device from Basic Information', () => {
    expect(matterDeviceInfo(node(0x0100, {}), 'Matter node 7')).toEqual({
      name: 'Lamp 3000',
      manufacturer: 'Acme',
      model: 'Lamp 3000',
      sw_version: '1.2.3',
    });
    expect(matterDeviceInfo({}, 'Matter node 7')).toEqual({ name: 'Matter node 7' });
  });

  it('every mapping: a unique stem that makes a valid entity key, a known platform, readable attributes', () => {
    const stems = MATTER_ENTITY_MAPPINGS.map((m) => m.key);
    for (const mapping of MATTER_ENTITY_MAPPINGS) {
      expect(`${mapping.key}-65534`).toMatch(/^[a-z0-9][a-z0-9_-]{0,63}$/);
      expect(mapping.reads.length).toBeGreaterThan(0);
    }
    expect(new Set(stems).size).toBe(stems.length);
  });
});

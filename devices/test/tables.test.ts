// Invariants across every table definition (as zhc's index.test.ts does for its
// device list): each name a decoder can emit has metadata and is snake_case, ids
// are unique, fields fit their frames, codecs exist.
import { describe, expect, it } from 'vitest';
import {
  BLE_MEASUREMENTS,
  BTHOME_OBJECTS,
  CODECS,
  LAYOUT_FORMATS,
  MIBEACON_OBJECTS,
  measurementMeta,
  QINGPING_OBJECTS,
} from '../src/index.js';

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const SIZE = (type: string) => Number(type.match(/\d+/)![0]) / 8;

/** names the hand-written decoders (scales, iBeacon, Eddystone, BTHome dimmer) emit */
const SPECIAL_NAMES = [
  'profile_id',
  'heart_rate',
  'impedance_low',
  'impedance_high',
  'mass',
  'mass_non_stabilized',
  'impedance',
  'stabilized',
  'uuid',
  'major',
  'minor',
  'tx_power',
  'instance_id',
  'url',
  'voltage',
  'temperature',
  'count',
  'uptime',
  'dimmer_steps',
  'command_steps',
  'command_args',
];

function allNames(): string[] {
  return [
    ...BTHOME_OBJECTS.filter((o) => o.kind !== 'device').map((o) => o.name),
    ...LAYOUT_FORMATS.flatMap((f) => f.fields.map((x) => x.name)),
    ...MIBEACON_OBJECTS.flatMap((o) => o.fields.map((x) => x.name)),
    ...QINGPING_OBJECTS.flatMap((o) => o.fields.map((x) => x.name)),
    ...SPECIAL_NAMES,
  ];
}

describe('decoder tables', () => {
  it('every measurement name has metadata and is snake_case', () => {
    for (const name of new Set(allNames())) {
      expect(name, name).toMatch(SNAKE);
      expect(measurementMeta(name), `no BLE_MEASUREMENTS entry for "${name}"`).toBeDefined();
    }
    for (const name of Object.keys(BLE_MEASUREMENTS)) expect(name).toMatch(SNAKE);
  });

  it('instance suffixes resolve to the base name', () => {
    expect(measurementMeta('temperature_2')).toEqual(BLE_MEASUREMENTS.temperature);
    expect(measurementMeta('temperature_probe_3')).toEqual(BLE_MEASUREMENTS.temperature);
    expect(measurementMeta('no_such_thing_2')).toBeUndefined();
  });

  it('metadata is consistent: binary sensors have no unit, events are events', () => {
    for (const [name, meta] of Object.entries(BLE_MEASUREMENTS)) {
      if (meta.platform !== 'sensor') expect(meta.unit, name).toBeUndefined();
      if (meta.platform !== 'sensor') expect(meta.state_class, name).toBeUndefined();
    }
    // the units CONTRACT §5 fixes
    const units: Record<string, string> = {
      temperature: '°C',
      humidity: '%',
      battery: '%',
      pressure: 'hPa',
      illuminance: 'lx',
      moisture: '%',
      conductivity: 'µS/cm',
      carbon_dioxide: 'ppm',
      pm25: 'µg/m³',
      pm10: 'µg/m³',
      volatile_organic_compounds: 'µg/m³',
      voltage: 'V',
      power: 'W',
      energy: 'kWh',
      current: 'A',
      mass: 'kg',
      distance: 'mm',
      signal_strength: 'dBm',
    };
    for (const [name, unit] of Object.entries(units)) expect(BLE_MEASUREMENTS[name]?.unit, name).toBe(unit);
    for (const name of ['motion', 'opening', 'door', 'window', 'occupancy'])
      expect(BLE_MEASUREMENTS[name]?.platform).toBe('binary_sensor');
    expect(BLE_MEASUREMENTS.button?.platform).toBe('event');
  });

  it('object ids are unique per table', () => {
    for (const [what, ids] of [
      ['BTHome', BTHOME_OBJECTS.map((o) => o.id)],
      ['MiBeacon', MIBEACON_OBJECTS.map((o) => o.id)],
      ['Qingping', QINGPING_OBJECTS.map((o) => o.id)],
    ] as const) {
      expect(new Set(ids).size, `${what} has duplicate object ids`).toBe(ids.length);
    }
  });

  it('BTHome rows are ordered by id, events have names, numbers have factors that are not zero', () => {
    const ids = BTHOME_OBJECTS.map((o) => o.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    for (const o of BTHOME_OBJECTS) {
      if (o.kind === 'event' || o.kind === 'dimmer') expect(o.events?.length, o.name).toBeGreaterThan(1);
      if (o.factor !== undefined) expect(o.factor).not.toBe(0);
    }
  });

  it('layout rows: unique ids, fields inside every accepted length, a way to be found, known codecs', () => {
    const ids = LAYOUT_FORMATS.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const row of LAYOUT_FORMATS) {
      const { serviceUuid, companyId, namePrefix, listedUuid } = row.match;
      const found = [serviceUuid, companyId, namePrefix, listedUuid].some((key) => key !== undefined);
      expect(found, `${row.id} has no service UUID, company id, name or listed UUID to be found by`).toBe(
        true,
      );
      // fields past the end of a shorter accepted length are read only when present (iBBQ: 2, 4 or 6 probes)
      const longest = Math.max(...(row.match.length ?? [Number.POSITIVE_INFINITY]));
      for (const f of row.fields) {
        expect(f.at + SIZE(f.type), `${row.id}.${f.name}`).toBeLessThanOrEqual(longest);
        if (f.codec) expect(CODECS[f.codec], f.codec).toBeDefined();
      }
      if (serviceUuid !== undefined) expect(serviceUuid).toMatch(/^[0-9a-f]{4}$/);
    }
  });

  it('TLV rows: fields fit in the minimum length they declare', () => {
    // conditional fields (onlyIf) follow a state byte and are read only when present
    for (const row of [...MIBEACON_OBJECTS, ...QINGPING_OBJECTS])
      for (const f of row.fields)
        if (f.constant === undefined && !f.onlyIf)
          expect(f.at + SIZE(f.type), `0x${row.id.toString(16)} ${f.name}`).toBeLessThanOrEqual(
            row.minLength,
          );
  });
});

// The simulated sensors and the relay, with a manual clock and seeded randomness.
import { HelloSchema } from '@sentinel/firmware';
import { describe, expect, it } from 'vitest';
import {
  applyCommand,
  defaultPicketEntities,
  humiditySensor,
  manualClock,
  PicketDevice,
  readAll,
  relaySwitch,
  seededRandom,
  temperatureSensor,
} from '../src/index.js';
import { DEFAULT_HELLO_ENTITIES } from './support/default-entities.js';

/** a day of readings, one a minute */
function day(make: typeof temperatureSensor, seed: number): number[] {
  const clock = manualClock();
  const sensor = make({ random: seededRandom(seed), clock });
  const values: number[] = [];
  for (let minute = 0; minute < 24 * 60; minute++) {
    clock.advance(60_000);
    values.push(sensor.read(clock.now()) as number);
  }
  return values;
}

describe('simulated sensors', () => {
  it('temperature drifts slowly around 21 °C in steps of 0.1', () => {
    for (const seed of [1, 2, 3]) {
      const values = day(temperatureSensor, seed);
      const mean = values.reduce((a, b) => a + b) / values.length;
      expect(mean).toBeGreaterThan(19.5);
      expect(mean).toBeLessThan(22.5);
      expect(Math.min(...values)).toBeGreaterThan(17);
      expect(Math.max(...values)).toBeLessThan(25);
      for (const v of values) expect(String(v)).toMatch(/^\d+(\.\d)?$/);
      // slow: a minute never moves it by more than half a degree
      const steps = values.slice(1).map((v, i) => Math.abs(v - values[i]!));
      expect(Math.max(...steps)).toBeLessThanOrEqual(0.5);
      // but it does move
      expect(new Set(values).size).toBeGreaterThan(10);
    }
  });

  it('humidity stays a plausible indoor percentage with one decimal', () => {
    const values = day(humiditySensor, 4);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(25);
    expect(Math.max(...values)).toBeLessThanOrEqual(65);
    for (const v of values) expect(String(v)).toMatch(/^\d+(\.\d)?$/);
  });

  it('does not change when read twice at the same moment, and replays exactly with the same seed', () => {
    const clock = manualClock();
    const a = defaultPicketEntities({ random: seededRandom(9), clock });
    const b = defaultPicketEntities({ random: seededRandom(9), clock });
    clock.advance(30_000);
    const first = readAll(a, clock.now());
    expect(readAll(a, clock.now())).toEqual(first);
    expect(readAll(b, clock.now())).toEqual(first);
  });
});

describe('the relay', () => {
  it('obeys true/false and the turn_on/turn_off/toggle actions', () => {
    const relay = relaySwitch();
    const cmd = (fields: { value?: unknown; action?: string }) =>
      relay.command!({ cid: 'x', key: 'relay', ...fields });
    expect(relay.read(0)).toBe(false);
    expect(cmd({ value: true })).toEqual({ ok: true });
    expect(relay.read(0)).toBe(true);
    expect(cmd({ action: 'toggle' })).toEqual({ ok: true });
    expect(relay.read(0)).toBe(false);
    expect(cmd({ action: 'turn_on' })).toEqual({ ok: true });
    expect(cmd({ action: 'turn_off' })).toEqual({ ok: true });
    expect(relay.read(0)).toBe(false);
  });

  it('refuses values that are not booleans and actions it does not know, and stays as it was', () => {
    const relay = relaySwitch('relay', true);
    for (const value of ['on', 1, null, undefined]) {
      expect(relay.command!({ cid: 'x', key: 'relay', value })).toEqual({
        ok: false,
        error: 'relay expects value true or false',
      });
    }
    expect(relay.command!({ cid: 'x', key: 'relay', action: 'explode' })).toMatchObject({ ok: false });
    expect(relay.read(0)).toBe(true);
  });

  it('commands are routed by key; unknown keys and sensors are refused', () => {
    const entities = defaultPicketEntities({ random: seededRandom(1), clock: manualClock() });
    expect(applyCommand(entities, { cid: '1', key: 'relay', value: true })).toEqual({ ok: true });
    expect(applyCommand(entities, { cid: '2', key: 'fan', value: true })).toEqual({
      ok: false,
      error: 'unknown key "fan"',
    });
    expect(applyCommand(entities, { cid: '3', key: 'humidity', value: 3 })).toEqual({
      ok: false,
      error: 'humidity is read-only',
    });
  });
});

describe('hello', () => {
  it('describes every entity and validates against HelloSchema', () => {
    const device = new PicketDevice({ id: 'hall', token: 't', gateway: 'mqtt://127.0.0.1:1883' });
    expect(HelloSchema.parse(device.hello)).toEqual({
      v: 1,
      fw: '1.4.0',
      chip: 'esp32s3',
      model: 'picket-sim',
      manufacturer: 'Sentinel',
      name: 'hall',
      entities: DEFAULT_HELLO_ENTITIES,
    });
  });

  it('takes other entities and descriptive fields, and refuses a hello that would not validate', () => {
    const custom = new PicketDevice({
      id: 'lab',
      token: 't',
      gateway: 'mqtt://127.0.0.1:1883',
      hello: { chip: 'esp32p4', fw: '2.0.0' },
      entities: (context) => [temperatureSensor(context, 'inside'), temperatureSensor(context, 'outside')],
    });
    expect(custom.hello).toMatchObject({ chip: 'esp32p4', fw: '2.0.0' });
    expect(custom.hello.entities.map((e) => e.key)).toEqual(['inside', 'outside']);
    expect(
      () =>
        new PicketDevice({
          id: 'lab',
          token: 't',
          gateway: 'mqtt://127.0.0.1:1883',
          entities: () => [relaySwitch(), relaySwitch()],
        }),
    ).toThrow(/duplicate key "relay"/);
  });
});

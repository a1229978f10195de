// The BTHome encoder against the bytes of the format page (bthome.io/format),
// not against our decoder: each case is a value from the spec's "Result" column
// and the spec's "Example" bytes it must come out as (after the 0x40 device
// information byte), so a wrong row in the encoder's own table shows here even
// if the decoder had the same mistake.
import { BTHOME_OBJECTS, decodeAdvertisement } from '@sentinel/devices';
import { describe, expect, it } from 'vitest';
import { BleEncodeError, encodeBthome } from '../src/index.js';

const MAC = '54:48:E6:8F:80:A5';
type Input = Parameters<typeof encodeBthome>[0];

const hexOf = (input: Omit<Input, 'mac'>): string =>
  Buffer.from(encodeBthome({ mac: MAC, ...input }).serviceData[0]!.data).toString('hex');

/** [what we send, the spec's example object bytes] */
const CASES: [Omit<Input, 'mac'>, string][] = [
  [{ packetId: 9, measurements: {} }, '0009'],
  [{ measurements: { battery: 97 } }, '0161'],
  [{ measurements: { temperature: 25.06 } }, '02CA09'],
  [{ measurements: { humidity: 50.55 } }, '03BF13'],
  [{ measurements: { pressure: 1008.83 } }, '04138A01'],
  [{ measurements: { illuminance: 13460.67 } }, '05138A14'],
  [{ measurements: { mass: 80.3 } }, '065E1F'],
  [{ measurements: { dew_point: 17.38 } }, '08CA06'],
  [{ measurements: { count: 96 } }, '0960'],
  [{ measurements: { count: 24585 } }, '3D0960'],
  [{ measurements: { count: 1611213866 } }, '3E2A2C0960'],
  [{ measurements: { count: -22 } }, '59EA'],
  [{ measurements: { count: -5398 } }, '5AEAEA'],
  [{ measurements: { count: -365690134 } }, '5BEA0234EA'],
  [{ measurements: { energy: 1346.067 } }, '0A138A14'],
  [{ measurements: { energy: 344593.17 } }, '4D12138A14'],
  [{ measurements: { power: 69.14 } }, '0B021B00'],
  [{ measurements: { power: -12.78 } }, '5C02FBFFFF'],
  [{ measurements: { voltage: 3.074 } }, '0C020C'],
  [{ measurements: { voltage: 307.4 } }, '4A020C'],
  [{ measurements: { pm25: 3090 } }, '0D120C'],
  [{ measurements: { pm10: 7170 } }, '0E021C'],
  [{ measurements: { generic: true } }, '0F01'],
  [{ measurements: { power_on: true } }, '1001'],
  [{ measurements: { opening: false } }, '1100'],
  [{ measurements: { carbon_dioxide: 1250 } }, '12E204'],
  [{ measurements: { volatile_organic_compounds: 307 } }, '133301'],
  [{ measurements: { moisture: 30.74 } }, '14020C'],
  [{ measurements: { battery_low: true } }, '1501'],
  [{ measurements: { battery_charging: true } }, '1601'],
  [{ measurements: { carbon_monoxide: false } }, '1700'],
  [{ measurements: { cold: true } }, '1801'],
  [{ measurements: { connectivity: false } }, '1900'],
  [{ measurements: { door: false } }, '1A00'],
  [{ measurements: { garage_door: true } }, '1B01'],
  [{ measurements: { gas_detected: true } }, '1C01'],
  [{ measurements: { heat: false } }, '1D00'],
  [{ measurements: { light: true } }, '1E01'],
  [{ measurements: { lock: true } }, '1F01'],
  [{ measurements: { moisture_detected: true } }, '2001'],
  [{ measurements: { motion: false } }, '2100'],
  [{ measurements: { moving: true } }, '2201'],
  [{ measurements: { occupancy: true } }, '2301'],
  [{ measurements: { plug: false } }, '2400'],
  [{ measurements: { presence: false } }, '2500'],
  [{ measurements: { problem: true } }, '2601'],
  [{ measurements: { running: true } }, '2701'],
  [{ measurements: { safety: false } }, '2800'],
  [{ measurements: { smoke: true } }, '2901'],
  [{ measurements: { sound: false } }, '2A00'],
  [{ measurements: { tamper: false } }, '2B00'],
  [{ measurements: { vibration: true } }, '2C01'],
  [{ measurements: { window: true } }, '2D01'],
  [{ measurements: { button: 'press' } }, '3A01'],
  [{ measurements: { button: 'double_press' } }, '3A02'],
  [{ measurements: { button: 'triple_press' } }, '3A03'],
  [{ measurements: { button: 'long_press' } }, '3A04'],
  [{ measurements: { button: 'long_double_press' } }, '3A05'],
  [{ measurements: { button: 'long_triple_press' } }, '3A06'],
  [{ measurements: { button: 'hold_press' } }, '3A80'],
  [{ measurements: { command: 'off' } }, '3B0000'],
  [{ measurements: { command: 'on' } }, '3B0001'],
  [{ measurements: { command: 'toggle' } }, '3B0002'],
  [{ measurements: { command: 'step_up', command_steps: 5 } }, '3B010305'],
  [{ measurements: { command: 'step_down', command_steps: 5 } }, '3B010405'],
  [{ measurements: { dimmer: 'rotate_left', dimmer_steps: 3 } }, '3C0103'],
  [{ measurements: { dimmer: 'rotate_right', dimmer_steps: 10 } }, '3C020A'],
  [{ measurements: { rotation: 307.4 } }, '3F020C'],
  [{ measurements: { distance: 12 } }, '400C00'],
  [{ measurements: { duration: 13.39 } }, '424E3400'],
  [{ measurements: { current: 13.39 } }, '434E34'],
  [{ measurements: { current: -5.63 } }, '5D02EA'],
  [{ measurements: { speed: 133.9 } }, '444E34'],
  [{ measurements: { speed: -2.123456 } }, '624099DFFF'],
  [{ measurements: { uv_index: 5 } }, '4632'],
  [{ measurements: { volume: 2215.1 } }, '478756'],
  [{ measurements: { volume: 19551.879 } }, '4E87562A01'],
  [{ measurements: { volume_flow_rate: 34.78 } }, '49DC87'],
  [{ measurements: { gas: 1346.067 } }, '4B138A14'],
  [{ measurements: { gas: 25821.505 } }, '4C41018A01'],
  [{ measurements: { water: 19551.879 } }, '4F87562A01'],
  [{ measurements: { timestamp: 1684093277 } }, '505D396164'],
  [{ measurements: { acceleration: 22.151 } }, '518756'],
  [{ measurements: { acceleration: -3.123456 } }, '630057D0FF'],
  [{ measurements: { gyroscope: 22.151 } }, '528756'],
  [{ measurements: { text: 'Hello World!' } }, '530C48656C6C6F20576F726C6421'],
  [{ measurements: { raw: '48656c6c6f20576f726c6421' } }, '540C48656C6C6F20576F726C6421'],
  [{ measurements: { volume_storage: 19551.879 } }, '5587562A01'],
  [{ measurements: { conductivity: 1000 } }, '56E803'],
  [{ measurements: { direction: 359.99 } }, '5E9F8C'],
  [{ measurements: { precipitation: 400 } }, '5FA00F'],
  [{ measurements: { channel: 1 } }, '6001'],
  [{ measurements: { rotational_speed: 3500 } }, '61AC0D'],
  [{ measurements: { light_level: 2 } }, '6402'],
  [{ measurements: { settings_revision: 3 } }, '6503'],
  [{ deviceTypeId: 1, measurements: {} }, 'F00100'],
  [{ swVersion: '4.2.1.0', measurements: {} }, 'F100010204'],
  [{ swVersion: '6.1.0', measurements: {} }, 'F2000106'],
];

describe('BTHome encoder: the format page examples, byte for byte', () => {
  for (const [input, bytes] of CASES) {
    it(`${JSON.stringify({ ...input.measurements, ...input, measurements: undefined })} → ${bytes}`, () => {
      expect(hexOf(input)).toBe(`40${bytes}`.toLowerCase());
    });
  }

  it('the spec page example: 0x40, temperature 25.00 °C, humidity 50.55 %', () => {
    // bthome.io/format "BTHome Data format": D2FC 40 02C409 03BF13
    expect(hexOf({ measurements: { humidity: 50.55, temperature: 25 } })).toBe('4002c40903bf13');
  });

  it('sends objects in numerical order and instances in their order (temperature before temperature_2)', () => {
    // 1000 °C needs 0x45 (0.1 °C steps) for both instances, so their order is kept
    expect(hexOf({ packetId: 1, measurements: { temperature_2: 20, battery: 50, temperature: 1000 } })).toBe(
      '400001013245102745c800',
    );
  });

  it('v1: the v1 page examples, with their format bytes', () => {
    const v1 = (measurements: Input['measurements']) =>
      Buffer.from(encodeBthome({ mac: MAC, version: 1, measurements }).serviceData[0]!.data).toString('hex');
    // bthome.io/v1: 2302CA09 (signed, 3 bytes) · 0303BF13 · 020161 · 033C0103
    expect(v1({ temperature: 25.06 })).toBe('2302ca09');
    expect(v1({ humidity: 50.55 })).toBe('0303bf13');
    expect(v1({ battery: 97 })).toBe('020161');
    expect(v1({ dimmer: 'rotate_left', dimmer_steps: 3 })).toBe('033c0103');
    expect(() => v1({ command: 'on' })).toThrow(/no command object/);
  });

  it("agrees with the decoder's own table on every name it can carry, plain and encrypted", () => {
    // two tables written apart: a name sent under another object's id decodes as another name
    const key = Uint8Array.from(Buffer.from('231d39c1d7cc1ab1aee224cd096db932', 'hex'));
    const names = new Set(
      BTHOME_OBJECTS.filter((o) => o.kind === 'number' || o.kind === 'bool').map((o) => o.name),
    );
    for (const name of names) {
      const kind = BTHOME_OBJECTS.find((o) => o.name === name)!.kind;
      const value = kind === 'bool' ? true : name === 'packet_id' ? 7 : 12;
      const measurements = { [name]: value, [`${name}_2`]: kind === 'bool' ? false : 2 };
      const plain = decodeAdvertisement(encodeBthome({ mac: MAC, measurements }));
      const sealed = decodeAdvertisement(encodeBthome({ mac: MAC, measurements, bindkey: key, counter: 9 }), {
        bindkey: key,
      });
      const v1 = decodeAdvertisement(encodeBthome({ mac: MAC, version: 1, measurements }));
      const expected = name === 'packet_id' ? { packet_id: 7, packet_id_2: 2 } : measurements;
      for (const r of [plain, sealed, v1]) expect(r.ok && r.measurements, name).toEqual(expected);
    }
  });

  it('refuses values no object can carry, with the reason', () => {
    expect(() => encodeBthome({ mac: MAC, measurements: { battery: 300 } })).toThrow(BleEncodeError);
    expect(() => encodeBthome({ mac: MAC, measurements: { battery: 300 } })).toThrow(/out of range/);
    expect(() => encodeBthome({ mac: MAC, measurements: { command: 'explode' } })).toThrow(/command event/);
    expect(() => encodeBthome({ mac: MAC, measurements: {}, swVersion: '1.2' })).toThrow(/firmware version/);
    expect(() =>
      encodeBthome({ mac: MAC, measurements: { dimmer: 'rotate_left', dimmer_steps: 300 } }),
    ).toThrow(/dimmer_steps/);
  });
});

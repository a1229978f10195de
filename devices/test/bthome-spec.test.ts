// Every object id of the BTHome v2 format page (bthome.io/format, as of April
// 2026) with the page's own example bytes and results, and the v1 page's
// (bthome.io/v1) examples with their format bytes. The bytes and values are
// copied from the spec tables, not produced by our tables; where CONTRACT §5
// fixes another unit (mass kg, distance mm) the spec's result is converted here.
import { describe, expect, it } from 'vitest';
import { type BleDecodeSuccess, BTHOME_OBJECTS, decodeAdvertisement } from '../src/index.js';
import { serviceAdv } from './helpers.js';

const MAC = '54:48:E6:8F:80:A5';

interface SpecExample {
  /** the example's object bytes (object id first), as the spec table prints them */
  bytes: string;
  measurements: Record<string, number | boolean | string>;
  units?: Record<string, string>;
  device?: BleDecodeSuccess['device'];
}

/** bthome.io/format "Sensor data", "Binary Sensor data", "Events", "Commands", "Device information", "Misc data". */
const V2: [id: number, examples: SpecExample[]][] = [
  [0x00, [{ bytes: '0009', measurements: { packet_id: 9 } }]],
  [0x01, [{ bytes: '0161', measurements: { battery: 97 } }]],
  [0x02, [{ bytes: '02CA09', measurements: { temperature: 25.06 } }]],
  [0x03, [{ bytes: '03BF13', measurements: { humidity: 50.55 } }]],
  [0x04, [{ bytes: '04138A01', measurements: { pressure: 1008.83 } }]],
  [0x05, [{ bytes: '05138A14', measurements: { illuminance: 13460.67 } }]],
  [0x06, [{ bytes: '065E1F', measurements: { mass: 80.3 } }]],
  // spec: 74.86 lb; CONTRACT §5: mass in kg (74.86 × 0.45359237, to 0.1 g)
  [0x07, [{ bytes: '073E1D', measurements: { mass: 33.9559 } }]],
  [0x08, [{ bytes: '08CA06', measurements: { dew_point: 17.38 } }]],
  [0x09, [{ bytes: '0960', measurements: { count: 96 } }]],
  [0x0a, [{ bytes: '0A138A14', measurements: { energy: 1346.067 } }]],
  [0x0b, [{ bytes: '0B021B00', measurements: { power: 69.14 } }]],
  [0x0c, [{ bytes: '0C020C', measurements: { voltage: 3.074 } }]],
  [0x0d, [{ bytes: '0D120C', measurements: { pm25: 3090 } }]],
  [0x0e, [{ bytes: '0E021C', measurements: { pm10: 7170 } }]],
  [0x0f, [{ bytes: '0F01', measurements: { generic: true } }]],
  [0x10, [{ bytes: '1001', measurements: { power_on: true } }]],
  [0x11, [{ bytes: '1100', measurements: { opening: false } }]],
  [0x12, [{ bytes: '12E204', measurements: { carbon_dioxide: 1250 } }]],
  [0x13, [{ bytes: '133301', measurements: { volatile_organic_compounds: 307 } }]],
  [0x14, [{ bytes: '14020C', measurements: { moisture: 30.74 } }]],
  [0x15, [{ bytes: '1501', measurements: { battery_low: true } }]],
  [0x16, [{ bytes: '1601', measurements: { battery_charging: true } }]],
  [0x17, [{ bytes: '1700', measurements: { carbon_monoxide: false } }]],
  [0x18, [{ bytes: '1801', measurements: { cold: true } }]],
  [0x19, [{ bytes: '1900', measurements: { connectivity: false } }]],
  [0x1a, [{ bytes: '1A00', measurements: { door: false } }]],
  [0x1b, [{ bytes: '1B01', measurements: { garage_door: true } }]],
  [0x1c, [{ bytes: '1C01', measurements: { gas_detected: true } }]],
  [0x1d, [{ bytes: '1D00', measurements: { heat: false } }]],
  [0x1e, [{ bytes: '1E01', measurements: { light: true } }]],
  [0x1f, [{ bytes: '1F01', measurements: { lock: true } }]],
  [0x20, [{ bytes: '2001', measurements: { moisture_detected: true } }]],
  [0x21, [{ bytes: '2100', measurements: { motion: false } }]],
  [0x22, [{ bytes: '2201', measurements: { moving: true } }]],
  [0x23, [{ bytes: '2301', measurements: { occupancy: true } }]],
  [0x24, [{ bytes: '2400', measurements: { plug: false } }]],
  [0x25, [{ bytes: '2500', measurements: { presence: false } }]],
  [0x26, [{ bytes: '2601', measurements: { problem: true } }]],
  [0x27, [{ bytes: '2701', measurements: { running: true } }]],
  [0x28, [{ bytes: '2800', measurements: { safety: false } }]],
  [0x29, [{ bytes: '2901', measurements: { smoke: true } }]],
  [0x2a, [{ bytes: '2A00', measurements: { sound: false } }]],
  [0x2b, [{ bytes: '2B00', measurements: { tamper: false } }]],
  [0x2c, [{ bytes: '2C01', measurements: { vibration: true } }]],
  [0x2d, [{ bytes: '2D01', measurements: { window: true } }]],
  [0x2e, [{ bytes: '2E23', measurements: { humidity: 35 } }]],
  [0x2f, [{ bytes: '2F23', measurements: { moisture: 35 } }]],
  [
    0x3a,
    [
      { bytes: '3A00', measurements: {} },
      { bytes: '3A01', measurements: { button: 'press' } },
      { bytes: '3A02', measurements: { button: 'double_press' } },
      { bytes: '3A03', measurements: { button: 'triple_press' } },
      { bytes: '3A04', measurements: { button: 'long_press' } },
      { bytes: '3A05', measurements: { button: 'long_double_press' } },
      { bytes: '3A06', measurements: { button: 'long_triple_press' } },
      { bytes: '3A80', measurements: { button: 'hold_press' } },
      // "Multiple events of the same type": no event for the first button, press for the second
      { bytes: '3A003A01', measurements: { button: 'press' } },
    ],
  ],
  [
    0x3b,
    [
      { bytes: '3B0000', measurements: { command: 'off' } },
      { bytes: '3B0001', measurements: { command: 'on' } },
      { bytes: '3B0002', measurements: { command: 'toggle' } },
      { bytes: '3B010305', measurements: { command: 'step_up', command_steps: 5 } },
      { bytes: '3B010405', measurements: { command: 'step_down', command_steps: 5 } },
    ],
  ],
  [
    0x3c,
    [
      { bytes: '3C0000', measurements: {} },
      { bytes: '3C0103', measurements: { dimmer: 'rotate_left', dimmer_steps: 3 } },
      { bytes: '3C020A', measurements: { dimmer: 'rotate_right', dimmer_steps: 10 } },
    ],
  ],
  [0x3d, [{ bytes: '3D0960', measurements: { count: 24585 } }]],
  [0x3e, [{ bytes: '3E2A2C0960', measurements: { count: 1611213866 } }]],
  [0x3f, [{ bytes: '3F020C', measurements: { rotation: 307.4 } }]],
  [0x40, [{ bytes: '400C00', measurements: { distance: 12 } }]],
  // spec: 7.8 m; CONTRACT §5: distance in mm
  [0x41, [{ bytes: '414E00', measurements: { distance: 7800 } }]],
  [0x42, [{ bytes: '424E3400', measurements: { duration: 13.39 } }]],
  [0x43, [{ bytes: '434E34', measurements: { current: 13.39 } }]],
  [0x44, [{ bytes: '444E34', measurements: { speed: 133.9 } }]],
  [0x45, [{ bytes: '451101', measurements: { temperature: 27.3 } }]],
  [0x46, [{ bytes: '4632', measurements: { uv_index: 5 } }]],
  [0x47, [{ bytes: '478756', measurements: { volume: 2215.1 } }]],
  // the spec's unit for 0x48 is mL (factor 1), for 0x47 and 0x4E L
  [0x48, [{ bytes: '48DC87', measurements: { volume: 34780 }, units: { volume: 'mL' } }]],
  [0x49, [{ bytes: '49DC87', measurements: { volume_flow_rate: 34.78 } }]],
  [0x4a, [{ bytes: '4A020C', measurements: { voltage: 307.4 } }]],
  [0x4b, [{ bytes: '4B138A14', measurements: { gas: 1346.067 } }]],
  [0x4c, [{ bytes: '4C41018A01', measurements: { gas: 25821.505 } }]],
  [0x4d, [{ bytes: '4d12138a14', measurements: { energy: 344593.17 } }]],
  [0x4e, [{ bytes: '4E87562A01', measurements: { volume: 19551.879 } }]],
  [0x4f, [{ bytes: '4F87562A01', measurements: { water: 19551.879 } }]],
  // 1684093277 s = 2023-05-14 19:41:17 UTC
  [0x50, [{ bytes: '505d396164', measurements: { timestamp: 1684093277 } }]],
  [0x51, [{ bytes: '518756', measurements: { acceleration: 22.151 } }]],
  [0x52, [{ bytes: '528756', measurements: { gyroscope: 22.151 } }]],
  [0x53, [{ bytes: '530C48656C6C6F20576F726C6421', measurements: { text: 'Hello World!' } }]],
  [0x54, [{ bytes: '540C48656C6C6F20576F726C6421', measurements: { raw: '48656c6c6f20576f726c6421' } }]],
  [0x55, [{ bytes: '5587562A01', measurements: { volume_storage: 19551.879 } }]],
  [0x56, [{ bytes: '56E803', measurements: { conductivity: 1000 } }]],
  [0x57, [{ bytes: '57EA', measurements: { temperature: -22 } }]],
  [0x58, [{ bytes: '58EA', measurements: { temperature: -7.7 } }]],
  [0x59, [{ bytes: '59EA', measurements: { count: -22 } }]],
  [0x5a, [{ bytes: '5AEAEA', measurements: { count: -5398 } }]],
  [0x5b, [{ bytes: '5BEA0234EA', measurements: { count: -365690134 } }]],
  [0x5c, [{ bytes: '5C02FBFFFF', measurements: { power: -12.78 } }]],
  [0x5d, [{ bytes: '5D02EA', measurements: { current: -5.63 } }]],
  [0x5e, [{ bytes: '5E9F8C', measurements: { direction: 359.99 } }]],
  [0x5f, [{ bytes: '5FA00F', measurements: { precipitation: 400 } }]],
  [0x60, [{ bytes: '6001', measurements: { channel: 1 } }]],
  [0x61, [{ bytes: '61AC0D', measurements: { rotational_speed: 3500 } }]],
  [0x62, [{ bytes: '624099DFFF', measurements: { speed: -2.123456 } }]],
  [0x63, [{ bytes: '630057D0FF', measurements: { acceleration: -3.123456 } }]],
  [0x64, [{ bytes: '6402', measurements: { light_level: 2 } }]],
  [0x65, [{ bytes: '6503', measurements: { settings_revision: 3 } }]],
  [0xf0, [{ bytes: 'F00100', measurements: {}, device: { deviceTypeId: 1 } }]],
  [0xf1, [{ bytes: 'F100010204', measurements: {}, device: { swVersion: '4.2.1.0' } }]],
  [0xf2, [{ bytes: 'F2000106', measurements: {}, device: { swVersion: '6.1.0' } }]],
];

function expectExample(r: ReturnType<typeof decodeAdvertisement>, ex: SpecExample, format: string): void {
  if (!r.ok) throw new Error(`${ex.bytes}: ${r.error}: ${r.detail}`);
  expect(r.format).toBe(format);
  expect(Object.keys(r.measurements).sort(), ex.bytes).toEqual(Object.keys(ex.measurements).sort());
  for (const [k, v] of Object.entries(ex.measurements)) {
    if (typeof v === 'number') expect(r.measurements[k], `${ex.bytes} ${k}`).toBeCloseTo(v, 6);
    else expect(r.measurements[k], `${ex.bytes} ${k}`).toBe(v);
  }
  expect(r.units, ex.bytes).toEqual(ex.units);
  expect(r.device, ex.bytes).toEqual(ex.device);
  expect(r.warning, ex.bytes).toBeUndefined();
}

describe('BTHome v2: every object id with the format page example', () => {
  for (const [id, examples] of V2) {
    for (const ex of examples) {
      it(`0x${id.toString(16).padStart(2, '0')}: ${ex.bytes}`, () => {
        expectExample(decodeAdvertisement(serviceAdv(MAC, 'fcd2', `40${ex.bytes}`)), ex, 'bthome-v2');
      });
    }
  }

  it('the decoder table has exactly the object ids of the format page', () => {
    const specIds = V2.map(([id]) => id);
    expect(BTHOME_OBJECTS.map((o) => o.id).sort((a, b) => a - b)).toEqual(specIds.sort((a, b) => a - b));
  });

  it('reads all examples in one packet, in id order, numbering repeats _2, _3', () => {
    const bytes = [...V2]
      .sort(([a], [b]) => a - b)
      .map(([, examples]) => examples.at(-1)!.bytes)
      .join('');
    const r = decodeAdvertisement(serviceAdv(MAC, 'fcd2', `40${bytes}`));
    if (!r.ok) throw new Error(r.detail);
    expect(r.warning).toBeUndefined();
    // temperature: 0x02, 0x45, 0x57, 0x58 in that order
    expect(r.measurements).toMatchObject({
      temperature: 25.06,
      temperature_2: 27.3,
      temperature_3: -22,
      temperature_4: -7.7,
      volume: 2215.1,
      volume_2: 34780,
      volume_3: 19551.879,
      text: 'Hello World!',
      command: 'step_down',
      command_steps: 5,
      light_level: 2,
    });
    // the mL one is the second volume of the packet
    expect(r.units).toEqual({ volume_2: 'mL' });
    expect(r.device).toEqual({ deviceTypeId: 1, swVersion: '6.1.0' });
  });

  it('names what is wrong with a short command, text or signed speed object', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 3B0103'))).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v2: object 0x3b (command) truncated: needs 2 bytes, has 1',
    });
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 3B'))).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v2: object 0x3b (command) truncated: no length byte',
    });
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 624099DF'))).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v2: object 0x62 (speed) truncated: needs 4 bytes, has 3',
    });
  });

  it('keeps an unknown command opcode visible, with its arguments', () => {
    const r = decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 3B02 09 ABCD'));
    expect(r).toMatchObject({ ok: true, measurements: { command: 'opcode_0x09', command_args: 'abcd' } });
  });
});

/** bthome.io/v1 "Supported data": the format byte (data format bits 5-7, length bits 0-4) comes first. */
const V1: SpecExample[] = [
  { bytes: '020161', measurements: { battery: 97 } },
  { bytes: '2302CA09', measurements: { temperature: 25.06 } },
  { bytes: '0303BF13', measurements: { humidity: 50.55 } },
  { bytes: '022E23', measurements: { humidity: 35 } },
  { bytes: '0404138A01', measurements: { pressure: 1008.83 } },
  { bytes: '0405138A14', measurements: { illuminance: 13460.67 } },
  { bytes: '03065E1F', measurements: { mass: 80.3 } },
  { bytes: '03073E1D', measurements: { mass: 33.9559 } },
  { bytes: '2308CA06', measurements: { dew_point: 17.38 } },
  { bytes: '020960', measurements: { count: 96 } },
  { bytes: '040A138A14', measurements: { energy: 1346.067 } },
  { bytes: '040B021B00', measurements: { power: 69.14 } },
  { bytes: '030C020C', measurements: { voltage: 3.074 } },
  { bytes: '030D120C', measurements: { pm25: 3090 } },
  { bytes: '030E021C', measurements: { pm10: 7170 } },
  { bytes: '0312E204', measurements: { carbon_dioxide: 1250 } },
  { bytes: '03133301', measurements: { volatile_organic_compounds: 307 } },
  { bytes: '0314020C', measurements: { moisture: 30.74 } },
  { bytes: '022F23', measurements: { moisture: 35 } },
  { bytes: '03518756', measurements: { acceleration: 22.151 } },
  { bytes: '03528756', measurements: { gyroscope: 22.151 } },
  // text and raw: the length bits cover the id and 12 bytes, data format 0
  { bytes: '0D5348656C6C6F20576F726C6421', measurements: { text: 'Hello World!' } },
  { bytes: '0D5448656C6C6F20576F726C6421', measurements: { raw: '48656c6c6f20576f726c6421' } },
  { bytes: '020F01', measurements: { generic: true } },
  { bytes: '021001', measurements: { power_on: true } },
  { bytes: '021100', measurements: { opening: false } },
  { bytes: '021501', measurements: { battery_low: true } },
  { bytes: '021601', measurements: { battery_charging: true } },
  { bytes: '021700', measurements: { carbon_monoxide: false } },
  { bytes: '021801', measurements: { cold: true } },
  { bytes: '021900', measurements: { connectivity: false } },
  { bytes: '021A00', measurements: { door: false } },
  { bytes: '021B01', measurements: { garage_door: true } },
  { bytes: '021C01', measurements: { gas_detected: true } },
  { bytes: '021D00', measurements: { heat: false } },
  { bytes: '021E01', measurements: { light: true } },
  { bytes: '021F01', measurements: { lock: true } },
  { bytes: '022001', measurements: { moisture_detected: true } },
  { bytes: '022100', measurements: { motion: false } },
  { bytes: '022201', measurements: { moving: true } },
  { bytes: '022301', measurements: { occupancy: true } },
  { bytes: '022400', measurements: { plug: false } },
  { bytes: '022500', measurements: { presence: false } },
  { bytes: '022601', measurements: { problem: true } },
  { bytes: '022701', measurements: { running: true } },
  { bytes: '022800', measurements: { safety: false } },
  { bytes: '022901', measurements: { smoke: true } },
  { bytes: '022A00', measurements: { sound: false } },
  { bytes: '022B00', measurements: { tamper: false } },
  { bytes: '022C01', measurements: { vibration: true } },
  { bytes: '022D01', measurements: { window: true } },
  { bytes: '023A00', measurements: {} },
  { bytes: '023A01', measurements: { button: 'press' } },
  { bytes: '023A04', measurements: { button: 'long_press' } },
  { bytes: '023A06', measurements: { button: 'long_triple_press' } },
  { bytes: '023C00', measurements: {} },
  { bytes: '033C0103', measurements: { dimmer: 'rotate_left', dimmer_steps: 3 } },
  { bytes: '033C020A', measurements: { dimmer: 'rotate_right', dimmer_steps: 10 } },
  { bytes: '020009', measurements: { packet_id: 9 } },
  // bthome-ble's v1 tests: a mass as a 2-byte (half precision) float, 0x70FE = 10224 × 0.01 kg
  { bytes: '4306FE70', measurements: { mass: 102.24 } },
  // and the timestamp with data format 5 (0xA5: format 5, length 5)
  { bytes: 'A5505D396164', measurements: { timestamp: 1684093277 } },
];

describe('BTHome v1: the v1 page examples, each with its data format', () => {
  for (const ex of V1) {
    it(ex.bytes, () => {
      expectExample(decodeAdvertisement(serviceAdv(MAC, '181c', ex.bytes)), ex, 'bthome-v1');
    });
  }

  it('reads any length the data format allows: 4- and 8-byte floats, a signed 1-byte temperature', () => {
    // 0x45: float, length 5 · 02 · 21.5 as float32 LE (0x41AC0000) × 0.01
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', '4502 0000AC41'))).toMatchObject({
      measurements: { temperature: 0.215 },
    });
    // 0x49: float, length 9 · 03 · 55.5 as float64 LE × 0.01
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', '4903 0000000000C04B40'))).toMatchObject({
      measurements: { humidity: 0.555 },
    });
    // 0x22: signed, length 2 · 02 · 0xF6 = -10 × 0.01
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', '2202F6'))).toMatchObject({
      measurements: { temperature: -0.1 },
    });
  });

  it('names a float of a length IEEE 754 does not have, a string for a number and an undefined format', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', '4402C40900'))).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v1: object 0x02 (temperature): data format 2 (float) with 3 bytes (2, 4 or 8)',
    });
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', '6302C409'))).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v1: object 0x02 (temperature): data format 3 (string) for a number',
    });
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', 'E302C409'))).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v1: object 0x02 (temperature): data format 7 is not defined',
    });
  });
});

// Encoders → decoder round trips for every format, plain and encrypted, and the
// encoders' own refusals. The decoder is @sentinel/devices, tested against
// hand-written bytes in devices/test; here the two halves must agree.
import {
  type BleAdvertisement,
  type BleDecodeResult,
  type CODECS,
  decodeAdvertisement,
  LAYOUT_FORMATS,
  type LayoutField,
  type MeasurementValue,
} from '@sentinel/devices';
import { describe, expect, it } from 'vitest';
import {
  BleEncodeError,
  encodeAdvertisement,
  encodeBthome,
  encodeEddystone,
  encodeIbeacon,
  encodeLayoutAdvertisement,
  encodeMibeacon,
  encodeQingping,
  encodeXiaomiScale,
} from '../src/index.js';

const MAC = 'A4:C1:38:5A:6B:7C';
const KEY = Uint8Array.from(Buffer.from('231d39c1d7cc1ab1aee224cd096db932', 'hex'));
const LEGACY_KEY = Uint8Array.from(Buffer.from('b853075158487ca39a5b5ea9', 'hex'));

function measurements(r: BleDecodeResult): Record<string, MeasurementValue> {
  if (!r.ok) throw new Error(`decode failed: ${r.error}: ${r.detail}`);
  return r.measurements;
}

function expectClose(
  actual: Record<string, MeasurementValue>,
  expected: Record<string, MeasurementValue>,
): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) {
    if (typeof v === 'number') expect(actual[k], k).toBeCloseTo(v, 2);
    else expect(actual[k], k).toEqual(v);
  }
}

/** A representative value for each layout field, chosen to survive the field's resolution. */
const CODEC_VALUES: Record<keyof typeof CODECS, number> = {
  'govee-packed-temperature': -7.3,
  'govee-packed-humidity': 48.1,
  'govee-h5106-temperature': 24.8,
  'govee-h5106-humidity': 59.1,
  'govee-h5106-pm25': 12,
  'switchbot-temperature': -12.3,
  'ruuvi-v1-temperature': -3.25,
  'ruuvi-v2-voltage': 2.977,
  'ruuvi-v2-tx-power': 4,
  'govee-probe': 63.5,
  'fahrenheit-tenths': 21.5,
};
function sampleValue(f: LayoutField): MeasurementValue {
  if (f.bool) return true;
  if (f.codec) return CODEC_VALUES[f.codec];
  return 37 * (f.factor ?? 1) + (f.add ?? 0);
}

describe('layout encoders (every table row)', () => {
  for (const row of LAYOUT_FORMATS.filter((r) => !r.unsupported)) {
    it(`${row.id} round-trips`, () => {
      // fields that depend on a state byte (probe pairs): the first state's fields only
      const state = row.fields.find((f) => f.onlyIf)?.onlyIf;
      const fields = row.fields.filter((f) => !f.onlyIf || !state || f.onlyIf.equals === state.equals);
      const values = Object.fromEntries(fields.map((f) => [f.name, sampleValue(f)]));
      // the longest frame the row accepts, so optional fields (more probes) are written too
      const length = row.match.length ? Math.max(...row.match.length) : undefined;
      const adv = encodeLayoutAdvertisement(row.id, {
        mac: MAC,
        measurements: values,
        ...(length ? { length } : {}),
      });
      const r = decodeAdvertisement(adv);
      expect(r).toMatchObject({ ok: true, format: row.format, device: row.device });
      expectClose(measurements(r), values);
    });
  }

  it('ATC/pvvx carry the MAC and the frame counter', () => {
    const adv = encodeLayoutAdvertisement('pvvx-custom', {
      mac: MAC,
      packetId: 9,
      measurements: { temperature: 21.37, humidity: 40.5, voltage: 2.9, battery: 80 },
    });
    expect(Buffer.from(adv.serviceData[0]!.data.subarray(0, 6)).toString('hex')).toBe('7c6b5a38c1a4');
    expect(decodeAdvertisement(adv)).toMatchObject({ packetId: 9 });
  });

  it('refuses an unknown layout id', () => {
    expect(() => encodeLayoutAdvertisement('nope', { mac: MAC, measurements: {} })).toThrow(BleEncodeError);
  });
});

describe('BTHome encoder', () => {
  const values = {
    temperature: 21.37,
    temperature_2: -4.5,
    humidity: 55.1,
    battery: 87,
    motion: true,
    window: false,
    button: 'long_press',
    text: 'hi',
  };

  it('v2 plain round-trips, objects in id order, packet id first', () => {
    const adv = encodeBthome({ mac: MAC, packetId: 12, measurements: values });
    const data = adv.serviceData[0]!.data;
    expect(adv.serviceData[0]!.uuid).toBe('fcd2');
    expect(data[0]).toBe(0x40);
    expect(data[1]).toBe(0x00);
    const r = decodeAdvertisement(adv);
    expect(r).toMatchObject({ ok: true, format: 'bthome-v2', encrypted: false, packetId: 12 });
    expectClose(measurements(r), { ...values, packet_id: 12 });
  });

  it('v2 encrypted round-trips with the key, and only with it', () => {
    const adv = encodeBthome({ mac: MAC, measurements: values, bindkey: KEY, counter: 77 });
    expect(adv.serviceData[0]!.data[0]).toBe(0x41);
    const r = decodeAdvertisement(adv, { bindkey: KEY });
    expect(r).toMatchObject({ ok: true, encrypted: true, counter: 77 });
    expectClose(measurements(r), values);
    expect(decodeAdvertisement(adv, { bindkey: KEY.slice().reverse() })).toMatchObject({
      ok: false,
      error: 'decrypt failed',
    });
    expect(decodeAdvertisement(adv)).toMatchObject({ ok: false, error: 'decrypt failed' });
  });

  it('v1 plain and encrypted round-trip', () => {
    const v = { temperature: 21.37, humidity: 55.1, battery: 87 };
    expectClose(
      measurements(decodeAdvertisement(encodeBthome({ mac: MAC, version: 1, measurements: v }))),
      v,
    );
    const sealed = encodeBthome({ mac: MAC, version: 1, measurements: v, bindkey: KEY, counter: 3 });
    expect(sealed.serviceData[0]!.uuid).toBe('181e');
    expectClose(measurements(decodeAdvertisement(sealed, { bindkey: KEY })), v);
  });

  it('refuses names BTHome has no object for, and values of the wrong type', () => {
    expect(() => encodeBthome({ mac: MAC, measurements: { flux_capacitance: 1 } })).toThrow(/no object/);
    expect(() => encodeBthome({ mac: MAC, measurements: { motion: 1 } })).toThrow(/boolean/);
    expect(() => encodeBthome({ mac: MAC, measurements: { button: 'explode' } })).toThrow(/event/);
    expect(() => encodeBthome({ mac: 'not-a-mac', measurements: {} })).toThrow(/MAC/);
  });
});

describe('MiBeacon encoder', () => {
  const values = { temperature: 22.4, humidity: 60.1, battery: 77, illuminance: 1200 };

  it('plain frames round-trip with the product id as the model', () => {
    const r = decodeAdvertisement(
      encodeMibeacon({ mac: MAC, productId: 0x055b, frameCounter: 5, measurements: values }),
    );
    expect(r).toMatchObject({
      ok: true,
      format: 'xiaomi-mibeacon',
      packetId: 5,
      device: { model: 'LYWSD03MMC' },
    });
    expectClose(measurements(r), values);
  });

  for (const version of [4, 5] as const) {
    it(`v${version} AES-CCM frames round-trip`, () => {
      const adv = encodeMibeacon({
        mac: MAC,
        productId: 0x055b,
        frameCounter: 9,
        version,
        bindkey: KEY,
        counter: 0x0102,
        measurements: values,
      });
      const r = decodeAdvertisement(adv, { bindkey: KEY });
      expect(r).toMatchObject({ ok: true, encrypted: true, counter: (0x0102 << 8) | 9 });
      expectClose(measurements(r), values);
      expect(decodeAdvertisement(adv, { bindkey: KEY.slice().reverse() })).toMatchObject({
        error: 'decrypt failed',
      });
    });
  }

  for (const version of [2, 3] as const) {
    it(`v${version} legacy frames round-trip with a 12-byte bindkey`, () => {
      const adv = encodeMibeacon({
        mac: MAC,
        productId: 0x0347,
        frameCounter: 1,
        version,
        bindkey: LEGACY_KEY,
        measurements: { temperature: 19.5 },
      });
      expectClose(measurements(decodeAdvertisement(adv, { bindkey: LEGACY_KEY })), { temperature: 19.5 });
    });
  }

  it('booleans and events map to their objects', () => {
    const v = { motion: true, smoke: false, opening: true };
    expectClose(
      measurements(decodeAdvertisement(encodeMibeacon({ mac: MAC, productId: 0x0a8d, measurements: v }))),
      v,
    );
  });

  it('refuses a measurement MiBeacon has no object for', () => {
    expect(() => encodeMibeacon({ mac: MAC, productId: 1, measurements: { pm10: 3 } })).toThrow(
      /no object for pm10/,
    );
  });
});

describe('encodeAdvertisement', () => {
  it('dispatches by format name', () => {
    const bthome = encodeAdvertisement({ format: 'bthome', mac: MAC, measurements: { temperature: 20.5 } });
    expect(measurements(decodeAdvertisement(bthome))).toEqual({ temperature: 20.5 });
    const govee = encodeAdvertisement({
      format: 'layout',
      id: 'govee-h5072',
      mac: MAC,
      measurements: { temperature: 21.6, humidity: 49.8, battery: 100 },
    });
    expect(decodeAdvertisement(govee)).toMatchObject({
      format: 'govee',
      measurements: { temperature: 21.6, humidity: 49.8, battery: 100 },
    });
    const scale = encodeAdvertisement({
      format: 'xiaomi-scale',
      mac: MAC,
      version: 1,
      mass: 80,
      stabilized: true,
    });
    expect(decodeAdvertisement(scale)).toMatchObject({ measurements: { mass: 80 } });
  });
});

describe('other encoders', () => {
  it('Qingping round-trips', () => {
    const v = {
      temperature: 24.4,
      humidity: 31.5,
      battery: 99,
      pm25: 12,
      pm10: 20,
      carbon_dioxide: 640,
      packet_id: 3,
    };
    expectClose(measurements(decodeAdvertisement(encodeQingping({ mac: MAC, measurements: v }))), v);
  });

  it('Xiaomi scales round-trip', () => {
    const v1 = decodeAdvertisement(encodeXiaomiScale({ mac: MAC, version: 1, mass: 71.3, stabilized: true }));
    expectClose(measurements(v1), { mass: 71.3, mass_non_stabilized: 71.3, stabilized: true });
    const v2 = decodeAdvertisement(
      encodeXiaomiScale({ mac: MAC, version: 2, mass: 64.2, stabilized: true, impedance: 480 }),
    );
    expectClose(measurements(v2), {
      mass: 64.2,
      mass_non_stabilized: 64.2,
      stabilized: true,
      impedance: 480,
    });
  });

  it('iBeacon and Eddystone round-trip', () => {
    const beacon: BleAdvertisement = encodeIbeacon({
      mac: MAC,
      uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0',
      major: 3,
      minor: 4,
      txPower: -60,
    });
    expectClose(measurements(decodeAdvertisement(beacon)), {
      uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0',
      major: 3,
      minor: 4,
      tx_power: -60,
    });
    const tlm = encodeEddystone({
      mac: MAC,
      frame: 'tlm',
      voltage: 2.95,
      temperature: -1.5,
      count: 1000,
      uptime: 3600.5,
    });
    expectClose(measurements(decodeAdvertisement(tlm)), {
      voltage: 2.95,
      temperature: -1.5,
      count: 1000,
      uptime: 3600.5,
    });
    const url = encodeEddystone({ mac: MAC, frame: 'url', txPower: -20, url: 'https://sentinel.example' });
    expectClose(measurements(decodeAdvertisement(url)), { tx_power: -20, url: 'https://sentinel.example' });
    const uid = encodeEddystone({
      mac: MAC,
      frame: 'uid',
      txPower: -20,
      namespace: '00112233445566778899',
      instance: 'aabbccddeeff',
    });
    expectClose(measurements(decodeAdvertisement(uid)), {
      tx_power: -20,
      uuid: '00112233445566778899',
      instance_id: 'aabbccddeeff',
    });
    expect(() => encodeIbeacon({ mac: MAC, uuid: 'abc', major: 0, minor: 0, txPower: 0 })).toThrow(
      BleEncodeError,
    );
  });
});

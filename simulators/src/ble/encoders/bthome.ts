// BTHome v1/v2 advertisements from measurements (https://bthome.io/format/,
// https://bthome.io/v1/, https://bthome.io/encryption/). The object table here is
// written from the format page on its own, not taken from the decoder's table, so
// a wrong row in one is caught by the round trip through the other (and the
// spec's example bytes in simulators/test/ble-bthome-spec.test.ts check this one).
import {
  type BleAdvertisement,
  bthomeV1Nonce,
  bthomeV2Nonce,
  ccmEncrypt,
  type MeasurementValue,
} from '@sentinel/devices';
import {
  advertisement,
  BleEncodeError,
  baseName,
  concat,
  type EncodeBase,
  type Measurements,
  macOf,
  u32le,
} from './common.js';

export interface BthomeEncodeInput extends EncodeBase {
  measurements: Measurements;
  /** object 0x00; also taken from measurements.packet_id */
  packetId?: number;
  version?: 1 | 2;
  /** 16 bytes: encrypt with AES-CCM */
  bindkey?: Uint8Array;
  /** the encryption counter (default 1) */
  counter?: number;
  trigger?: boolean;
  /** "Device information": 0xF1 ('4.2.1.0') or 0xF2 ('6.1.0') */
  swVersion?: string;
  /** "Device information": 0xF0 */
  deviceTypeId?: number;
}

/** A numeric object of the spec: id, value bytes, signedness, factor (value = raw × factor). */
interface NumObject {
  id: number;
  bytes: 1 | 2 | 3 | 4;
  signed?: boolean;
  factor: number;
}

const u = (id: number, bytes: NumObject['bytes'], factor = 1): NumObject => ({ id, bytes, factor });
const s = (id: number, bytes: NumObject['bytes'], factor = 1): NumObject => ({
  id,
  bytes,
  signed: true,
  factor,
});

/**
 * Measurement name (CONTRACT §5 units) → the spec's objects that can carry it,
 * in order of preference; the first whose range holds the value exactly wins
 * (else the first whose range holds it): 21.37 °C goes as 0x02, 0.01 °C steps.
 */
const NUMBERS: Record<string, readonly NumObject[]> = {
  packet_id: [u(0x00, 1)],
  battery: [u(0x01, 1)],
  temperature: [s(0x02, 2, 0.01), s(0x45, 2, 0.1)],
  humidity: [u(0x03, 2, 0.01), u(0x2e, 1)],
  pressure: [u(0x04, 3, 0.01)],
  illuminance: [u(0x05, 3, 0.01)],
  // kg; 0x07 would be lb
  mass: [u(0x06, 2, 0.01)],
  dew_point: [s(0x08, 2, 0.01)],
  count: [u(0x09, 1), u(0x3d, 2), u(0x3e, 4), s(0x59, 1), s(0x5a, 2), s(0x5b, 4)],
  energy: [u(0x0a, 3, 0.001), u(0x4d, 4, 0.001)],
  power: [u(0x0b, 3, 0.01), s(0x5c, 4, 0.01)],
  voltage: [u(0x0c, 2, 0.001), u(0x4a, 2, 0.1)],
  pm25: [u(0x0d, 2)],
  pm10: [u(0x0e, 2)],
  carbon_dioxide: [u(0x12, 2)],
  volatile_organic_compounds: [u(0x13, 2)],
  moisture: [u(0x14, 2, 0.01), u(0x2f, 1)],
  rotation: [s(0x3f, 2, 0.1)],
  // mm; 0x41 is 0.1 m steps
  distance: [u(0x40, 2), u(0x41, 2, 100)],
  duration: [u(0x42, 3, 0.001)],
  current: [u(0x43, 2, 0.001), s(0x5d, 2, 0.001)],
  speed: [u(0x44, 2, 0.01), s(0x62, 4, 0.000001)],
  uv_index: [u(0x46, 1, 0.1)],
  // L (0x48 would be mL)
  volume: [u(0x47, 2, 0.1), u(0x4e, 4, 0.001)],
  volume_flow_rate: [u(0x49, 2, 0.001)],
  gas: [u(0x4b, 3, 0.001), u(0x4c, 4, 0.001)],
  water: [u(0x4f, 4, 0.001)],
  timestamp: [u(0x50, 4)],
  acceleration: [u(0x51, 2, 0.001), s(0x63, 4, 0.000001)],
  gyroscope: [u(0x52, 2, 0.001)],
  volume_storage: [u(0x55, 4, 0.001)],
  conductivity: [u(0x56, 2)],
  direction: [u(0x5e, 2, 0.01)],
  precipitation: [u(0x5f, 2, 0.1)],
  channel: [u(0x60, 1)],
  rotational_speed: [u(0x61, 2)],
  light_level: [u(0x64, 1)],
  settings_revision: [u(0x65, 1)],
};

/** "Binary Sensor data": one byte, 1 = on. */
const BOOLEANS: Record<string, number> = {
  generic: 0x0f,
  power_on: 0x10,
  opening: 0x11,
  battery_low: 0x15,
  battery_charging: 0x16,
  carbon_monoxide: 0x17,
  cold: 0x18,
  connectivity: 0x19,
  door: 0x1a,
  garage_door: 0x1b,
  gas_detected: 0x1c,
  heat: 0x1d,
  light: 0x1e,
  lock: 0x1f,
  moisture_detected: 0x20,
  motion: 0x21,
  moving: 0x22,
  occupancy: 0x23,
  plug: 0x24,
  presence: 0x25,
  problem: 0x26,
  running: 0x27,
  safety: 0x28,
  smoke: 0x29,
  sound: 0x2a,
  tamper: 0x2b,
  vibration: 0x2c,
  window: 0x2d,
};

/** "Events" and "Commands": event (or opcode) codes by name. */
const BUTTON: Record<string, number> = {
  press: 0x01,
  double_press: 0x02,
  triple_press: 0x03,
  long_press: 0x04,
  long_double_press: 0x05,
  long_triple_press: 0x06,
  hold_press: 0x80,
};
const DIMMER: Record<string, number> = { rotate_left: 0x01, rotate_right: 0x02 };
const COMMAND: Record<string, number> = { off: 0x00, on: 0x01, toggle: 0x02, step_up: 0x03, step_down: 0x04 };

const TEXT = 0x53;
const RAW = 0x54;
/** measurement names that travel inside another object */
const CARRIED = new Set(['packet_id', 'dimmer_steps', 'command_steps']);

function rawRange(o: NumObject): [number, number] {
  const bits = 8 * o.bytes;
  return o.signed ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
}

function inRange(o: NumObject, value: number): boolean {
  const raw = Math.round(value / o.factor);
  const [lo, hi] = rawRange(o);
  return raw >= lo && raw <= hi;
}

function exact(o: NumObject, value: number): boolean {
  return Math.abs(Math.round(value / o.factor) * o.factor - value) < 1e-9 * Math.max(1, Math.abs(value));
}

/** One object for every value of a name (so `temperature` and `temperature_2` keep their order). */
function chooseNumber(name: string, values: number[]): NumObject {
  const candidates = NUMBERS[name]!;
  const fits = candidates.filter((o) => values.every((v) => inRange(o, v)));
  const chosen = fits.find((o) => values.every((v) => exact(o, v))) ?? fits[0];
  if (!chosen)
    throw new BleEncodeError(`BTHome: ${name} ${values.join(', ')} is out of range of every object`);
  return chosen;
}

function intBytes(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(Math.round(value));
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function code(table: Record<string, number>, what: string, value: MeasurementValue): number {
  const c = table[String(value)];
  if (c === undefined) throw new BleEncodeError(`BTHome: unknown ${what} event "${String(value)}"`);
  return c;
}

interface Obj {
  id: number;
  /** the value bytes (for text, raw and command: including their length byte) */
  bytes: Uint8Array;
  /** v1: data format bits 5-7 (0 unsigned, 1 signed, 3 string) */
  format: number;
}

function steps(m: Measurements, name: string): number {
  const v = m[name];
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255)
    throw new BleEncodeError(`BTHome: ${name} must be a whole number 0–255`);
  return v;
}

/** The objects in id order, as the spec asks devices to send them (stable: _2 after its base). */
function objects(input: BthomeEncodeInput): Obj[] {
  const m = input.measurements;
  const list: Obj[] = [];
  const packetId = input.packetId ?? m.packet_id;
  if (packetId !== undefined)
    list.push({ id: 0x00, bytes: Uint8Array.of(Number(packetId) & 0xff), format: 0 });
  // group instances by base name: temperature, temperature_2, …
  const groups = new Map<string, [string, MeasurementValue][]>();
  for (const [name, value] of Object.entries(m)) {
    if (CARRIED.has(name)) continue;
    const base = name in NUMBERS || name in BOOLEANS ? name : baseName(name);
    groups.set(base, [...(groups.get(base) ?? []), [name, value]]);
  }
  for (const [base, entries] of groups) {
    entries.sort(([a], [b]) => instance(a) - instance(b));
    if (base in NUMBERS) {
      for (const [name, v] of entries)
        if (typeof v !== 'number') throw new BleEncodeError(`BTHome: ${name} needs a number`);
      const o = chooseNumber(
        base,
        entries.map(([, v]) => v as number),
      );
      for (const [, v] of entries)
        list.push({ id: o.id, bytes: intBytes((v as number) / o.factor, o.bytes), format: o.signed ? 1 : 0 });
      continue;
    }
    for (const [name, v] of entries) list.push(other(base, name, v, m));
  }
  if (input.deviceTypeId !== undefined)
    list.push({ id: 0xf0, bytes: intBytes(input.deviceTypeId, 2), format: 0 });
  if (input.swVersion !== undefined) {
    const parts = input.swVersion.split('.').map(Number);
    if (![3, 4].includes(parts.length) || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
      throw new BleEncodeError(`BTHome: firmware version "${input.swVersion}" is not a.b.c or a.b.c.d`);
    list.push({ id: parts.length === 4 ? 0xf1 : 0xf2, bytes: Uint8Array.from(parts.reverse()), format: 0 });
  }
  return list.sort((a, b) => a.id - b.id);
}

function instance(name: string): number {
  const n = /_(\d+)$/.exec(name);
  return n ? Number(n[1]) : 1;
}

function other(base: string, name: string, v: MeasurementValue, m: Measurements): Obj {
  const id = BOOLEANS[base];
  if (id !== undefined) {
    if (typeof v !== 'boolean') throw new BleEncodeError(`BTHome: ${name} needs a boolean`);
    return { id, bytes: Uint8Array.of(v ? 1 : 0), format: 0 };
  }
  switch (base) {
    case 'button':
      return { id: 0x3a, bytes: Uint8Array.of(code(BUTTON, 'button', v)), format: 0 };
    case 'dimmer':
      return {
        id: 0x3c,
        bytes: Uint8Array.of(code(DIMMER, 'dimmer', v), steps(m, 'dimmer_steps')),
        format: 0,
      };
    case 'command': {
      const opcode = code(COMMAND, 'command', v);
      // length byte: bits 0-4 = argument length; step up/down carry the steps
      const args = opcode >= 3 ? [steps(m, 'command_steps')] : [];
      return { id: 0x3b, bytes: Uint8Array.of(args.length, opcode, ...args), format: 0 };
    }
    case 'text':
    case 'raw': {
      const body = base === 'text' ? Buffer.from(String(v), 'utf8') : Buffer.from(String(v), 'hex');
      if (body.length > 255) throw new BleEncodeError(`BTHome: ${name} is longer than 255 bytes`);
      return { id: base === 'text' ? TEXT : RAW, bytes: concat([body.length], body), format: 3 };
    }
    default:
      throw new BleEncodeError(`BTHome has no object for "${name}"`);
  }
}

/** v1 (bthome.io/v1): format byte (data format bits 5-7, length of id + value bits 0-4), id, value. */
function v1Object(o: Obj): Uint8Array {
  // v1 has no length byte inside text and raw values, and no command object
  if (o.id === 0x3b) throw new BleEncodeError('BTHome v1 has no command object');
  const value = o.id === TEXT || o.id === RAW ? o.bytes.subarray(1) : o.bytes;
  if (value.length + 1 > 0x1f)
    throw new BleEncodeError(`BTHome v1: object 0x${o.id.toString(16)} is too long`);
  return concat([(o.format << 5) | (value.length + 1), o.id], value);
}

export function encodeBthome(input: BthomeEncodeInput): BleAdvertisement {
  const mac = macOf(input.mac);
  const objs = objects(input);
  const counter = u32le(input.counter ?? 1);
  if ((input.version ?? 2) === 1) {
    const payload = concat(...objs.map(v1Object));
    if (!input.bindkey)
      return advertisement(input, { serviceData: [{ uuid: '181c', data: payload }], manufacturerData: [] });
    // v1 encryption (bthome-ble's scheme): associated data is the single byte 0x11
    const { ciphertext, mic } = ccmEncrypt(
      input.bindkey,
      bthomeV1Nonce(mac, counter),
      payload,
      4,
      Uint8Array.of(0x11),
    );
    return advertisement(input, {
      serviceData: [{ uuid: '181e', data: concat(ciphertext, counter, mic) }],
      manufacturerData: [],
    });
  }
  // device information byte: bit 0 encrypted, bit 2 trigger based, bits 5-7 version 2
  const info = (2 << 5) | (input.bindkey ? 0x01 : 0) | (input.trigger ? 0x04 : 0);
  const payload = concat(...objs.map((o) => concat([o.id], o.bytes)));
  if (!input.bindkey)
    return advertisement(input, {
      serviceData: [{ uuid: 'fcd2', data: concat([info], payload) }],
      manufacturerData: [],
    });
  const { ciphertext, mic } = ccmEncrypt(input.bindkey, bthomeV2Nonce(mac, info, counter), payload, 4);
  return advertisement(input, {
    serviceData: [{ uuid: 'fcd2', data: concat([info], ciphertext, counter, mic) }],
    manufacturerData: [],
  });
}

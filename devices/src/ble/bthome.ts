// BTHome v1 and v2 (https://bthome.io/format/, https://bthome.io/encryption/).
// The object table is data, as bthome-ble's MEAS_TYPES: one row per object id;
// the engine below walks the payload with it.

import { NUM_SIZE, type NumType, readNum, roundScaled } from './bytes.js';
import { ccmDecrypt } from './ccm.js';
import { fail, hex2, put } from './engine.js';
import { hexOf, textOf } from './hex.js';
import type { BleDecodeFailure, BleDecodeResult, BleDecodeSuccess, MeasurementValue } from './types.js';

export type BthomeKind = 'number' | 'bool' | 'event' | 'text' | 'raw' | 'dimmer' | 'device';

export interface BthomeObject {
  id: number;
  /** measurement name (CONTRACT §5); for `device` rows, the device-info field */
  name: string;
  type: NumType;
  kind: BthomeKind;
  /** value = raw × factor, in the unit of BLE_MEASUREMENTS[name] */
  factor?: number;
  /** event names by raw value (0 = no event) */
  events?: readonly string[];
}

const BUTTON_EVENTS = [
  '',
  'press',
  'double_press',
  'triple_press',
  'long_press',
  'long_double_press',
  'long_triple_press',
] as const;

const n = (id: number, name: string, type: NumType, factor = 1): BthomeObject => ({
  id,
  name,
  type,
  kind: 'number',
  factor,
});
const b = (id: number, name: string): BthomeObject => ({ id, name, type: 'u8', kind: 'bool' });

/** BTHome v2 object ids (bthome.io/format, "Sensor data", "Binary sensor data", "Events", "Device information"). */
export const BTHOME_OBJECTS: readonly BthomeObject[] = [
  n(0x00, 'packet_id', 'u8'),
  n(0x01, 'battery', 'u8'),
  n(0x02, 'temperature', 's16le', 0.01),
  n(0x03, 'humidity', 'u16le', 0.01),
  n(0x04, 'pressure', 'u24le', 0.01),
  n(0x05, 'illuminance', 'u24le', 0.01),
  n(0x06, 'mass', 'u16le', 0.01),
  // mass in lb: reported in kg like every other mass (CONTRACT §5: mass kg)
  n(0x07, 'mass', 'u16le', 0.01 * 0.45359237),
  n(0x08, 'dew_point', 's16le', 0.01),
  n(0x09, 'count', 'u8'),
  n(0x0a, 'energy', 'u24le', 0.001),
  n(0x0b, 'power', 'u24le', 0.01),
  n(0x0c, 'voltage', 'u16le', 0.001),
  n(0x0d, 'pm25', 'u16le'),
  n(0x0e, 'pm10', 'u16le'),
  b(0x0f, 'generic'),
  b(0x10, 'power_on'),
  b(0x11, 'opening'),
  n(0x12, 'carbon_dioxide', 'u16le'),
  n(0x13, 'volatile_organic_compounds', 'u16le'),
  n(0x14, 'moisture', 'u16le', 0.01),
  b(0x15, 'battery_low'),
  b(0x16, 'battery_charging'),
  b(0x17, 'carbon_monoxide'),
  b(0x18, 'cold'),
  b(0x19, 'connectivity'),
  b(0x1a, 'door'),
  b(0x1b, 'garage_door'),
  b(0x1c, 'gas_detected'),
  b(0x1d, 'heat'),
  b(0x1e, 'light'),
  b(0x1f, 'lock'),
  b(0x20, 'moisture_detected'),
  b(0x21, 'motion'),
  b(0x22, 'moving'),
  b(0x23, 'occupancy'),
  b(0x24, 'plug'),
  b(0x25, 'presence'),
  b(0x26, 'problem'),
  b(0x27, 'running'),
  b(0x28, 'safety'),
  b(0x29, 'smoke'),
  b(0x2a, 'sound'),
  b(0x2b, 'tamper'),
  b(0x2c, 'vibration'),
  b(0x2d, 'window'),
  n(0x2e, 'humidity', 'u8'),
  n(0x2f, 'moisture', 'u8'),
  { id: 0x3a, name: 'button', type: 'u8', kind: 'event', events: BUTTON_EVENTS },
  { id: 0x3c, name: 'dimmer', type: 'u16le', kind: 'dimmer', events: ['', 'rotate_left', 'rotate_right'] },
  n(0x3d, 'count', 'u16le'),
  n(0x3e, 'count', 'u32le'),
  n(0x3f, 'rotation', 's16le', 0.1),
  n(0x40, 'distance', 'u16le'),
  // distance in m (0.1 m steps): reported in mm (CONTRACT §5)
  n(0x41, 'distance', 'u16le', 100),
  n(0x42, 'duration', 'u24le', 0.001),
  n(0x43, 'current', 'u16le', 0.001),
  n(0x44, 'speed', 'u16le', 0.01),
  n(0x45, 'temperature', 's16le', 0.1),
  n(0x46, 'uv_index', 'u8', 0.1),
  n(0x47, 'volume', 'u16le', 0.1),
  n(0x48, 'volume', 'u16le', 0.001),
  n(0x49, 'volume_flow_rate', 'u16le', 0.001),
  n(0x4a, 'voltage', 'u16le', 0.1),
  n(0x4b, 'gas', 'u24le', 0.001),
  n(0x4c, 'gas', 'u32le', 0.001),
  n(0x4d, 'energy', 'u32le', 0.001),
  n(0x4e, 'volume', 'u32le', 0.001),
  n(0x4f, 'water', 'u32le', 0.001),
  n(0x50, 'timestamp', 'u32le'),
  n(0x51, 'acceleration', 'u16le', 0.001),
  n(0x52, 'gyroscope', 'u16le', 0.001),
  { id: 0x53, name: 'text', type: 'u8', kind: 'text' },
  { id: 0x54, name: 'raw', type: 'u8', kind: 'raw' },
  n(0x55, 'volume_storage', 'u32le', 0.001),
  n(0x56, 'conductivity', 'u16le'),
  n(0x57, 'temperature', 's8'),
  n(0x58, 'temperature', 's8', 0.35),
  n(0x59, 'count', 's8'),
  n(0x5a, 'count', 's16le'),
  n(0x5b, 'count', 's32le'),
  n(0x5c, 'power', 's32le', 0.01),
  n(0x5d, 'current', 's16le', 0.001),
  n(0x5e, 'direction', 'u16le', 0.01),
  n(0x5f, 'precipitation', 'u16le', 0.1),
  n(0x60, 'channel', 'u8'),
  n(0x61, 'rotational_speed', 'u16le'),
  { id: 0xf0, name: 'device_type_id', type: 'u16le', kind: 'device' },
  { id: 0xf1, name: 'firmware_version', type: 'u32le', kind: 'device' },
  { id: 0xf2, name: 'firmware_version', type: 'u24le', kind: 'device' },
];

/** Precompiled: object id → row, so the walk is one array index per object. */
const BY_ID: (BthomeObject | undefined)[] = new Array(256);
for (const row of BTHOME_OBJECTS) BY_ID[row.id] = row;

export function bthomeObject(id: number): BthomeObject | undefined {
  return BY_ID[id];
}

export const BTHOME_V2_UUID = 'fcd2';
export const BTHOME_V1_UUID = '181c';
export const BTHOME_V1_ENCRYPTED_UUID = '181e';

/** Device information byte (bthome.io/format "BTHome Device Information"). */
export const BTHOME_INFO_ENCRYPTED = 0x01;
export const BTHOME_INFO_TRIGGER = 0x04;
export const BTHOME_INFO_VERSION_SHIFT = 5;

function storeValue(out: Record<string, MeasurementValue>, row: BthomeObject, raw: number): void {
  switch (row.kind) {
    case 'number': {
      const factor = row.factor ?? 1;
      put(out, row.name, factor === 1 ? raw : roundScaled(raw * factor, factor));
      return;
    }
    case 'bool':
      put(out, row.name, raw !== 0);
      return;
    case 'event': {
      // 0 means "no event"; an unknown code is still an event the user should see
      if (raw === 0) return;
      const name = raw === 0x80 ? 'hold_press' : (row.events?.[raw] ?? `event_${hex2(raw)}`);
      put(out, row.name, name);
      return;
    }
    case 'dimmer': {
      const what = raw & 0xff;
      if (what === 0) return;
      put(out, row.name, row.events?.[what] ?? `event_${hex2(what)}`);
      put(out, 'dimmer_steps', raw >> 8);
      return;
    }
    default:
      return;
  }
}

/**
 * Walks v2 objects (id, value) from `at` to the end. An unknown id stops the
 * walk, as in bthome-ble (its length is unknown, so nothing after it can be
 * read); the caller keeps the objects before it.
 */
function walkV2(p: Uint8Array, at: number, out: Record<string, MeasurementValue>): string | undefined {
  let i = at;
  while (i < p.length) {
    const id = p[i]!;
    const row = BY_ID[id];
    if (row === undefined) return `${UNKNOWN_ID}${hex2(id)} at byte ${i}`;
    i += 1;
    if (row.kind === 'text' || row.kind === 'raw') {
      if (i >= p.length) return `object ${hex2(id)} truncated: no length byte`;
      const len = p[i]!;
      if (i + 1 + len > p.length)
        return `object ${hex2(id)} truncated: needs ${len} bytes, has ${p.length - i - 1}`;
      const body = p.subarray(i + 1, i + 1 + len);
      put(out, row.name, row.kind === 'text' ? textOf(body) : hexOf(body));
      i += 1 + len;
      continue;
    }
    const size = NUM_SIZE[row.type];
    if (i + size > p.length)
      return `object ${hex2(id)} (${row.name}) truncated: needs ${size} bytes, has ${p.length - i}`;
    if (row.kind !== 'device') storeValue(out, row, readNum(p, i, row.type));
    i += size;
  }
  return undefined;
}

const UNKNOWN_ID = 'unknown BTHome object id ';

/**
 * The end of a walk: malformed, or — for an unknown object id after some known
 * ones — the known ones with a warning, as bthome-ble keeps them.
 */
function walkResult(
  format: string,
  problem: string | undefined,
  out: Record<string, MeasurementValue>,
  encrypted: boolean,
  counter?: number,
): BleDecodeResult {
  const label = format === 'bthome-v2' ? 'BTHome v2' : 'BTHome v1';
  if (problem === undefined) return finish(format, out, encrypted, counter);
  if (problem.startsWith(UNKNOWN_ID) && Object.keys(out).length > 0)
    return {
      ...(finish(format, out, encrypted, counter) as BleDecodeSuccess),
      warning: `${label}: ${problem}; the objects after it were skipped`,
    };
  return fail('malformed', `${label}: ${problem}`);
}

const V1_TYPES: Record<number, readonly (NumType | undefined)[]> = {
  // data format (bits 5-7) → type by data length
  0: [undefined, 'u8', 'u16le', 'u24le', 'u32le'],
  1: [undefined, 's8', 's16le', 's24le', 's32le'],
  2: [undefined, undefined, undefined, undefined, 'f32le'],
};

/** v1 objects: format byte (length in bits 0-4 incl. the id, data type in bits 5-7), id, value. */
function walkV1(p: Uint8Array, out: Record<string, MeasurementValue>): string | undefined {
  let i = 0;
  while (i < p.length) {
    const header = p[i]!;
    const len = header & 0x1f;
    const format = header >> 5;
    if (len < 1) return `object at byte ${i} has length 0`;
    if (i + 1 + len > p.length)
      return `object at byte ${i} truncated: needs ${len} bytes, has ${p.length - i - 1}`;
    const id = p[i + 1]!;
    const row = BY_ID[id];
    if (row === undefined) return `${UNKNOWN_ID}${hex2(id)} at byte ${i + 1}`;
    const dataLen = len - 1;
    if (format === 3 || format === 4) {
      // string / MAC: nothing we map to a measurement
      i += 1 + len;
      continue;
    }
    const type = V1_TYPES[format]?.[dataLen];
    if (type === undefined) return `object ${hex2(id)}: data format ${format} with ${dataLen} bytes`;
    if (row.kind !== 'device' && row.kind !== 'text' && row.kind !== 'raw')
      storeValue(out, row, readNum(p, i + 2, type));
    i += 1 + len;
  }
  return undefined;
}

function finish(
  format: string,
  out: Record<string, MeasurementValue>,
  encrypted: boolean,
  counter?: number,
): BleDecodeResult {
  const pid = out.packet_id;
  return {
    ok: true,
    format,
    measurements: out,
    encrypted,
    ...(typeof pid === 'number' ? { packetId: pid } : {}),
    ...(counter !== undefined ? { counter } : {}),
  };
}

function nonceMac(mac: Uint8Array, uuid: number, middle: number[], counter: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(6 + 2 + middle.length + 4);
  nonce.set(mac, 0);
  nonce[6] = uuid & 0xff;
  nonce[7] = uuid >> 8;
  nonce.set(middle, 8);
  nonce.set(counter, 8 + middle.length);
  return nonce;
}

/** BTHome v2 nonce (bthome.io/encryption): MAC + UUID (LE) + device info + counter. */
export function bthomeV2Nonce(mac: Uint8Array, info: number, counter: Uint8Array): Uint8Array {
  return nonceMac(mac, 0xfcd2, [info], counter);
}

/** BTHome v1 nonce: MAC + UUID 0x181E (LE) + counter. */
export function bthomeV1Nonce(mac: Uint8Array, counter: Uint8Array): Uint8Array {
  return nonceMac(mac, 0x181e, [], counter);
}

/** Device info bit 1: the payload starts with the device's MAC, reversed (random-address devices). */
export const BTHOME_INFO_MAC_INCLUDED = 0x02;

/**
 * The encrypted tail both versions share (spec "Encryption"): ciphertext from
 * `start`, then a 4-byte counter and a 4-byte MIC; the counter goes into the nonce.
 */
function openEncrypted(
  label: 'BTHome v1' | 'BTHome v2',
  data: Uint8Array,
  start: number,
  bindkey: Uint8Array | undefined,
  nonce: (counter: Uint8Array) => Uint8Array,
  aad?: Uint8Array,
): { ok: true; plain: Uint8Array; counter: number } | BleDecodeFailure {
  if (data.length < start + 4 + 4 + 1)
    return fail('malformed', `${label} encrypted: ${data.length} bytes is too short`);
  if (!bindkey)
    return fail('decrypt failed', `${label}: the packet is encrypted and no bindkey is configured`);
  if (bindkey.length !== 16)
    return fail('decrypt failed', `${label}: bindkey must be 16 bytes, got ${bindkey.length}`);
  const counterBytes = data.subarray(data.length - 8, data.length - 4);
  const plain = ccmDecrypt(
    bindkey,
    nonce(counterBytes),
    data.subarray(start, data.length - 8),
    data.subarray(data.length - 4),
    aad,
  );
  if (!plain) return fail('decrypt failed', `${label}: MIC check failed (wrong bindkey or corrupted packet)`);
  return { ok: true, plain, counter: readNum(counterBytes, 0, 'u32le') };
}

export function decodeBthomeV2(
  data: Uint8Array,
  advMac: Uint8Array,
  bindkey: Uint8Array | undefined,
): BleDecodeResult {
  if (data.length < 1) return fail('malformed', 'BTHome v2: empty service data');
  const info = data[0]!;
  const version = info >> BTHOME_INFO_VERSION_SHIFT;
  if (version !== 2)
    return fail('unsupported', `BTHome: device info byte ${hex2(info)} says version ${version}, expected 2`);
  let start = 1;
  let mac = advMac;
  if (info & BTHOME_INFO_MAC_INCLUDED) {
    if (data.length < 7) return fail('malformed', 'BTHome v2: MAC flag set but the packet ends before it');
    mac = data.slice(1, 7).reverse();
    start = 7;
  }
  const out: Record<string, MeasurementValue> = {};
  if ((info & BTHOME_INFO_ENCRYPTED) === 0) {
    if (bindkey)
      return fail('downgrade', 'BTHome v2: a bindkey is configured but the packet is not encrypted');
    return walkResult('bthome-v2', walkV2(data, start, out), out, false);
  }
  // encrypted: info, [MAC], ciphertext, counter (4), MIC (4)
  const opened = openEncrypted('BTHome v2', data, start, bindkey, (counter) =>
    bthomeV2Nonce(mac, info, counter),
  );
  if (!opened.ok) return opened;
  return walkResult('bthome-v2', walkV2(opened.plain, 0, out), out, true, opened.counter);
}

/** BTHome v1 encrypts with this associated data (bthome-ble's v1 scheme). */
export const BTHOME_V1_AAD = Uint8Array.of(0x11);

export function decodeBthomeV1(
  data: Uint8Array,
  encryptedUuid: boolean,
  mac: Uint8Array,
  bindkey: Uint8Array | undefined,
): BleDecodeResult {
  const out: Record<string, MeasurementValue> = {};
  if (!encryptedUuid) {
    if (bindkey)
      return fail('downgrade', 'BTHome v1: a bindkey is configured but the packet is not encrypted');
    return walkResult('bthome-v1', walkV1(data, out), out, false);
  }
  // encrypted: ciphertext, counter (4), MIC (4)
  const opened = openEncrypted(
    'BTHome v1',
    data,
    0,
    bindkey,
    (counter) => bthomeV1Nonce(mac, counter),
    BTHOME_V1_AAD,
  );
  if (!opened.ok) return opened;
  return walkResult('bthome-v1', walkV1(opened.plain, out), out, true, opened.counter);
}

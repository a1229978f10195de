// BTHome v1 and v2 (https://bthome.io/format/, https://bthome.io/encryption/).
// The object table is data, as bthome-ble's MEAS_TYPES: one row per object id;
// the engine below walks the payload with it.

import { NUM_SIZE, type NumType, readNum, roundScaled } from './bytes.js';
import { ccmDecrypt } from './ccm.js';
import { fail, hex2, put } from './engine.js';
import { hexOf, textOf } from './hex.js';
import type {
  BleDecodeFailure,
  BleDecodeResult,
  BleDecodeSuccess,
  BleDeviceInfo,
  MeasurementValue,
} from './types.js';

export type BthomeKind = 'number' | 'bool' | 'event' | 'text' | 'raw' | 'dimmer' | 'command' | 'device';

export interface BthomeObject {
  id: number;
  /** measurement name (CONTRACT §5); for `device` rows, the device-info field */
  name: string;
  type: NumType;
  kind: BthomeKind;
  /** value = raw × factor, in the unit of BLE_MEASUREMENTS[name] */
  factor?: number;
  /** event names by raw value (0 = no event); for `command` rows, by opcode */
  events?: readonly string[];
  /**
   * the unit when it is not BLE_MEASUREMENTS[name].unit (0x48: volume in mL, as the
   * spec and bthome-ble give it); results carry it in `units`
   */
  unit?: string;
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

const n = (id: number, name: string, type: NumType, factor = 1, unit?: string): BthomeObject => ({
  id,
  name,
  type,
  kind: 'number',
  factor,
  ...(unit ? { unit } : {}),
});
/** Command opcodes ("Commands": 0x3B); step up/down carry a number of steps. */
const COMMAND_OPCODES = ['off', 'on', 'toggle', 'step_up', 'step_down'] as const;

const b = (id: number, name: string): BthomeObject => ({ id, name, type: 'u8', kind: 'bool' });

/**
 * BTHome v2 object ids (bthome.io/format: "Sensor data", "Binary Sensor data",
 * "Events", "Commands", "Device information", "Misc data"), checked against the
 * format page as of April 2026 (0x3B command, 0x65 settings revision) and
 * bthome-ble 3.20 (0x62–0x64). Names: sensor-state-data keys where bthome-ble
 * has one, else the spec's property name in snake_case.
 */
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
  // length byte (bits 0-4: argument length), opcode, arguments ("Commands")
  { id: 0x3b, name: 'command', type: 'u8', kind: 'command', events: COMMAND_OPCODES },
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
  // the spec gives 0x48 in mL (factor 1), 0x47 and 0x4E in L
  n(0x48, 'volume', 'u16le', 1, 'mL'),
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
  n(0x62, 'speed', 's32le', 0.000001),
  n(0x63, 'acceleration', 's32le', 0.000001),
  // 0 dark, 1 twilight, 2 bright
  n(0x64, 'light_level', 'u8'),
  n(0x65, 'settings_revision', 'u8'),
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

/** What one walk over the objects collects. */
interface Walk {
  out: Record<string, MeasurementValue>;
  /** units that differ from BLE_MEASUREMENTS (row.unit), by the key the value went to */
  units: Record<string, string>;
  device: BleDeviceInfo;
}

const newWalk = (): Walk => ({ out: {}, units: {}, device: {} });

function store(w: Walk, row: BthomeObject, name: string, value: MeasurementValue): void {
  const key = put(w.out, name, value);
  if (row.unit !== undefined && name === row.name) w.units[key] = row.unit;
}

/** Number, binary sensor, button and dimmer objects: `raw` is the object's value as an integer (or a v1 float). */
function storeNumber(w: Walk, row: BthomeObject, raw: number): void {
  switch (row.kind) {
    case 'number': {
      const factor = row.factor ?? 1;
      store(w, row, row.name, factor === 1 ? raw : roundScaled(raw * factor, factor));
      return;
    }
    case 'bool':
      store(w, row, row.name, raw !== 0);
      return;
    case 'event': {
      // 0 means "no event"; an unknown code is still an event the user should see
      if (raw === 0) return;
      const name = raw === 0x80 ? 'hold_press' : (row.events?.[raw] ?? `event_${hex2(raw)}`);
      store(w, row, row.name, name);
      return;
    }
    case 'dimmer': {
      const what = raw & 0xff;
      if (what === 0) return;
      store(w, row, row.name, row.events?.[what] ?? `event_${hex2(what)}`);
      put(w.out, 'dimmer_steps', Math.floor(raw / 256));
      return;
    }
    default:
      return;
  }
}

/** Variable-length and device-information objects: `body` is the value's bytes. */
function storeBytes(w: Walk, row: BthomeObject, body: Uint8Array): string | undefined {
  switch (row.kind) {
    case 'text':
      store(w, row, row.name, textOf(body));
      return undefined;
    case 'raw':
      store(w, row, row.name, hexOf(body));
      return undefined;
    case 'command': {
      // opcode, then its arguments (opcode- and manufacturer-specific; steps for step up/down)
      if (body.length < 1) return `object ${hex2(row.id)} (${row.name}) has no opcode`;
      const opcode = body[0]!;
      const args = body.subarray(1);
      store(w, row, row.name, row.events?.[opcode] ?? `opcode_${hex2(opcode)}`);
      if (args.length === 0) return undefined;
      if (opcode === 3 || opcode === 4) {
        if (args.length <= 4) put(w.out, 'command_steps', uintOf(args));
        else put(w.out, 'command_args', hexOf(args));
      } else put(w.out, 'command_args', hexOf(args));
      return undefined;
    }
    case 'device':
      // "Device information": type id (uint16), firmware version as 4 or 3 bytes, most significant last
      if (row.id === 0xf0) w.device.deviceTypeId = uintOf(body);
      else w.device.swVersion = Array.from(body).reverse().join('.');
      return undefined;
    default:
      return `object ${hex2(row.id)} (${row.name}) is not a byte string`;
  }
}

/** Unsigned little-endian integer of 1–8 bytes (above 2^53 it loses precision, as any JS number does). */
function uintOf(b: Uint8Array): number {
  let v = 0;
  for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i]!;
  return v;
}

function intOf(b: Uint8Array): number {
  const u = uintOf(b);
  return b.length > 0 && b[b.length - 1]! & 0x80 ? u - 2 ** (8 * b.length) : u;
}

/** IEEE 754 half precision (v1 floats of 2 bytes, as bthome-ble reads them). */
function half(b: Uint8Array): number {
  const v = b[0]! | (b[1]! << 8);
  const sign = v & 0x8000 ? -1 : 1;
  const exp = (v >> 10) & 0x1f;
  const frac = v & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** The length of a v2 object's value: fixed by its row, or read from the packet (text, raw, command). */
function v2Value(p: Uint8Array, i: number, row: BthomeObject): { start: number; end: number } | string {
  const id = hex2(row.id);
  if (row.kind === 'text' || row.kind === 'raw' || row.kind === 'command') {
    if (i >= p.length) return `object ${id} (${row.name}) truncated: no length byte`;
    // command: bits 0-4 are the argument length (bits 5-7 reserved), then the opcode byte
    const len = row.kind === 'command' ? (p[i]! & 0x1f) + 1 : p[i]!;
    if (i + 1 + len > p.length)
      return `object ${id} (${row.name}) truncated: needs ${len} bytes, has ${p.length - i - 1}`;
    return { start: i + 1, end: i + 1 + len };
  }
  const size = NUM_SIZE[row.type];
  if (i + size > p.length)
    return `object ${id} (${row.name}) truncated: needs ${size} bytes, has ${p.length - i}`;
  return { start: i, end: i + size };
}

/**
 * Walks v2 objects (id, value) from `at` to the end. An unknown id stops the
 * walk, as in bthome-ble (its length is unknown, so nothing after it can be
 * read); the caller keeps the objects before it.
 */
function walkV2(p: Uint8Array, at: number, w: Walk): string | undefined {
  let i = at;
  while (i < p.length) {
    const id = p[i]!;
    const row = BY_ID[id];
    if (row === undefined) return `${UNKNOWN_ID}${hex2(id)} at byte ${i}`;
    const value = v2Value(p, i + 1, row);
    if (typeof value === 'string') return value;
    if (BYTES_KINDS.has(row.kind)) {
      const problem = storeBytes(w, row, p.subarray(value.start, value.end));
      if (problem) return problem;
    } else storeNumber(w, row, readNum(p, value.start, row.type));
    i = value.end;
  }
  return undefined;
}

const BYTES_KINDS: ReadonlySet<BthomeKind> = new Set(['text', 'raw', 'command', 'device']);

const UNKNOWN_ID = 'unknown BTHome object id ';

/**
 * The end of a walk: malformed, or — for an unknown object id after some known
 * ones — the known ones with a warning, as bthome-ble keeps them.
 */
function walkResult(
  format: string,
  problem: string | undefined,
  w: Walk,
  encrypted: boolean,
  counter?: number,
): BleDecodeResult {
  const label = format === 'bthome-v2' ? 'BTHome v2' : 'BTHome v1';
  if (problem === undefined) return finish(format, w, encrypted, counter);
  if (problem.startsWith(UNKNOWN_ID) && Object.keys(w.out).length > 0)
    return {
      ...(finish(format, w, encrypted, counter) as BleDecodeSuccess),
      warning: `${label}: ${problem}; the objects after it were skipped`,
    };
  return fail('malformed', `${label}: ${problem}`);
}

/** v1 data formats (bthome.io/v1 "object format", bits 5-7 of the format byte). */
const V1_UINT = 0;
const V1_INT = 1;
const V1_FLOAT = 2;
const V1_STRING = 3;
const V1_MAC = 4;
/** not on the v1 page, but what bthome-ble reads as a timestamp (format byte 0xA5 in its tests) */
const V1_TIMESTAMP = 5;

/** A v1 value as a number, or why it is not one. */
function v1Number(body: Uint8Array, format: number, row: BthomeObject): number | string {
  const what = `object ${hex2(row.id)} (${row.name})`;
  if (body.length === 0) return `${what} has no value`;
  switch (format) {
    case V1_UINT:
    case V1_TIMESTAMP:
      if (body.length > 8) return `${what}: an unsigned integer of ${body.length} bytes`;
      return uintOf(body);
    case V1_INT:
      if (body.length > 8) return `${what}: a signed integer of ${body.length} bytes`;
      return intOf(body);
    case V1_FLOAT: {
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (body.length === 2) return half(body);
      if (body.length === 4) return view.getFloat32(0, true);
      if (body.length === 8) return view.getFloat64(0, true);
      return `${what}: data format 2 (float) with ${body.length} bytes (2, 4 or 8)`;
    }
    case V1_STRING:
      return `${what}: data format 3 (string) for a number`;
    default:
      return `${what}: data format ${format} is not defined`;
  }
}

/**
 * v1 objects: format byte (length in bits 0-4 incl. the id, data format in bits
 * 5-7), id, value. The length may be any the format allows (the spec lists a
 * "preferred data type"): a mass as a 2-byte half float is as valid as uint16.
 */
function walkV1(p: Uint8Array, w: Walk): string | undefined {
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
    const body = p.subarray(i + 2, i + 1 + len);
    i += 1 + len;
    // a MAC object (format 4) carries the sender's address, not a reading
    if (format === V1_MAC) continue;
    if (BYTES_KINDS.has(row.kind)) {
      // text and raw are byte strings whatever the format bits say (the spec's own example uses 0)
      const problem = storeBytes(w, row, body);
      if (problem) return problem;
      continue;
    }
    const value = v1Number(body, format, row);
    if (typeof value === 'string') return value;
    storeNumber(w, row, value);
  }
  return undefined;
}

function finish(format: string, w: Walk, encrypted: boolean, counter?: number): BleDecodeResult {
  const pid = w.out.packet_id;
  return {
    ok: true,
    format,
    measurements: w.out,
    encrypted,
    ...(typeof pid === 'number' ? { packetId: pid } : {}),
    ...(counter !== undefined ? { counter } : {}),
    ...(Object.keys(w.units).length > 0 ? { units: w.units } : {}),
    ...(Object.keys(w.device).length > 0 ? { device: w.device } : {}),
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
  const w = newWalk();
  if ((info & BTHOME_INFO_ENCRYPTED) === 0) {
    if (bindkey)
      return fail('downgrade', 'BTHome v2: a bindkey is configured but the packet is not encrypted');
    return walkResult('bthome-v2', walkV2(data, start, w), w, false);
  }
  // encrypted: info, [MAC], ciphertext, counter (4), MIC (4)
  const opened = openEncrypted('BTHome v2', data, start, bindkey, (counter) =>
    bthomeV2Nonce(mac, info, counter),
  );
  if (!opened.ok) return opened;
  return walkResult('bthome-v2', walkV2(opened.plain, 0, w), w, true, opened.counter);
}

/** BTHome v1 encrypts with this associated data (bthome-ble's v1 scheme). */
export const BTHOME_V1_AAD = Uint8Array.of(0x11);

export function decodeBthomeV1(
  data: Uint8Array,
  encryptedUuid: boolean,
  mac: Uint8Array,
  bindkey: Uint8Array | undefined,
): BleDecodeResult {
  const w = newWalk();
  if (!encryptedUuid) {
    if (bindkey)
      return fail('downgrade', 'BTHome v1: a bindkey is configured but the packet is not encrypted');
    return walkResult('bthome-v1', walkV1(data, w), w, false);
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
  return walkResult('bthome-v1', walkV1(opened.plain, w), w, true, opened.counter);
}

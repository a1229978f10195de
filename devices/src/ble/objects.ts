// Type-length-value object tables: Xiaomi MiBeacon (service data 0xFE95,
// object ids as in xiaomi-ble's xiaomi_dataobject_dict and the MiBeacon
// protocol docs) and Qingping (0xFDCD). Each row says where, inside the object's
// value, its measurements sit; the engine in mibeacon.ts / qingping.ts walks
// the objects and applies the rows.
import type { LayoutField } from './layout.js';
import type { MeasurementValue } from './types.js';

export interface TlvObject {
  id: number;
  /** the smallest value length this row can read */
  minLength: number;
  fields: readonly LayoutField[];
  /** for values whose meaning depends on which parts are set: a named decoder from OBJECT_DECODERS */
  decoder?: ObjectDecoderName;
}

/**
 * Object values a field list cannot say, decoded by name (the codecs of objects).
 * Xiaomi S400 body scale (0x6E16): profile id (1), then 32 bits LE — mass 0.1 kg
 * (bits 0-10), heart rate − 50 bpm (bits 11-17, 0 and 0x7F = none), impedance 0.1 Ω
 * (bits 18-31). A mass with an impedance is the low-frequency measurement while the
 * weight settles; an impedance alone is the high-frequency one at the end; a mass
 * alone is the settled weight.
 */
export const OBJECT_DECODERS = {
  'xiaomi-s400-body'(value: Uint8Array, out: Record<string, MeasurementValue>): void {
    out.profile_id = value[0]!;
    const bits = (value[1]! | (value[2]! << 8) | (value[3]! << 16) | (value[4]! << 24)) >>> 0;
    const mass = bits & 0x7ff;
    const heart = (bits >>> 11) & 0x7f;
    const impedance = bits >>> 18;
    if (mass) out.mass = mass / 10;
    if (heart && heart !== 0x7f) out.heart_rate = heart + 50;
    if (impedance) out[mass ? 'impedance_low' : 'impedance_high'] = impedance / 10;
    // settled: exactly one of the two is in this frame
    out.stabilized = (mass !== 0) !== (impedance !== 0);
  },
} satisfies Record<string, (value: Uint8Array, out: Record<string, MeasurementValue>) => void>;

export type ObjectDecoderName = keyof typeof OBJECT_DECODERS;

const f = (name: string, at: number, type: LayoutField['type'], more: Partial<LayoutField> = {}) =>
  ({ name, at, type, ...more }) as LayoutField;
const flag = (name: string, constant: boolean): LayoutField => ({ name, at: 0, type: 'u8', constant });
/** an event from a value-less object; objects with a value name their button, which we do not map */
const event = (name: string, constant: string): LayoutField => ({
  name,
  at: 0,
  type: 'u8',
  constant,
  onlyEmpty: true,
});
const PRESSES = ['press', 'double_press', 'long_press'] as const;

export const MIBEACON_OBJECTS: readonly TlvObject[] = [
  { id: 0x0003, minLength: 1, fields: [f('motion', 0, 'u8', { bool: true })] },
  // motion with illuminance (lx, 24-bit)
  // motion with illuminance (lx, 24-bit); "light" from 100 lx as xiaomi-ble reports it
  {
    id: 0x000f,
    minLength: 3,
    fields: [
      flag('motion', true),
      f('illuminance', 0, 'u24le'),
      f('light', 0, 'u24le', { bool: true, atLeast: 100 }),
    ],
  },
  // button: index (2), type (1): 0 press, 1 double, 2 long
  { id: 0x1001, minLength: 3, fields: [f('button', 2, 'u8', { events: PRESSES })] },
  // toothbrush: state 0 = brushing (then a counter in s), 1 = done (then a score)
  {
    id: 0x0010,
    minLength: 1,
    fields: [
      f('toothbrush', 0, 'u8', { bool: true, when: 0 }),
      f('counter', 1, 'u8', { onlyIf: { at: 0, equals: 0 } }),
      f('score', 1, 'u8', { onlyIf: { at: 0, equals: 1 } }),
    ],
  },
  { id: 0x1004, minLength: 2, fields: [f('temperature', 0, 's16le', { factor: 0.1 })] },
  { id: 0x1006, minLength: 2, fields: [f('humidity', 0, 'u16le', { factor: 0.1 })] },
  { id: 0x1007, minLength: 3, fields: [f('illuminance', 0, 'u24le')] },
  { id: 0x1008, minLength: 1, fields: [f('moisture', 0, 'u8')] },
  { id: 0x1009, minLength: 2, fields: [f('conductivity', 0, 'u16le')] },
  { id: 0x100a, minLength: 1, fields: [f('battery', 0, 'u8')] },
  {
    id: 0x100d,
    minLength: 4,
    fields: [f('temperature', 0, 's16le', { factor: 0.1 }), f('humidity', 2, 'u16le', { factor: 0.1 })],
  },
  { id: 0x1010, minLength: 2, fields: [f('formaldehyde', 0, 'u16le', { factor: 0.01 })] },
  { id: 0x1012, minLength: 1, fields: [f('power_on', 0, 'u8', { bool: true })] },
  { id: 0x1013, minLength: 1, fields: [f('consumable', 0, 'u8')] },
  { id: 0x1014, minLength: 1, fields: [f('moisture_detected', 0, 'u8', { bool: true })] },
  { id: 0x1015, minLength: 1, fields: [f('smoke', 0, 'u8', { bool: true })] },
  // "no motion for N s": the sensor is clear
  { id: 0x1017, minLength: 4, fields: [flag('motion', false)] },
  { id: 0x1018, minLength: 1, fields: [f('light', 0, 'u8', { bool: true })] },
  // door: 0 open, 1 closed, 2 open too long
  {
    id: 0x1019,
    minLength: 1,
    fields: [
      f('opening', 0, 'u8', { bool: true, whenIn: [0, 2] }),
      f('door_left_open', 0, 'u8', { bool: true, when: 2 }),
    ],
  },
  // no motion for a while (timeout)
  { id: 0x101b, minLength: 1, fields: [flag('motion', false)] },
  { id: 0x4801, minLength: 4, fields: [f('temperature', 0, 'f32le', { round: 2 })] },
  { id: 0x4802, minLength: 1, fields: [f('humidity', 0, 'u8')] },
  { id: 0x4804, minLength: 1, fields: [f('opening', 0, 'u8', { bool: true })] },
  { id: 0x4805, minLength: 4, fields: [f('illuminance', 0, 'f32le', { round: 2 })] },
  { id: 0x4806, minLength: 1, fields: [f('moisture_detected', 0, 'u8', { bool: true })] },
  { id: 0x483c, minLength: 1, fields: [f('occupancy', 0, 'u8', { bool: true })] },
  { id: 0x483d, minLength: 4, fields: [f('pressure_present_duration', 0, 'u32le')] },
  { id: 0x483e, minLength: 4, fields: [f('pressure_not_present_duration', 0, 'u32le')] },
  { id: 0x484e, minLength: 1, fields: [f('occupancy', 0, 'u8', { bool: true })] },
  { id: 0x4851, minLength: 1, fields: [f('duration_detected', 0, 'u8')] },
  { id: 0x4852, minLength: 1, fields: [f('duration_cleared', 0, 'u8')] },
  // door: 1 open, 2 closed, 3 left open, 4 forcibly removed
  {
    id: 0x4a12,
    minLength: 1,
    fields: [
      f('opening', 0, 'u8', { bool: true, whenIn: [1, 3] }),
      f('door_left_open', 0, 'u8', { bool: true, when: 3 }),
      f('device_forcibly_removed', 0, 'u8', { bool: true, when: 4 }),
    ],
  },
  { id: 0x4a1a, minLength: 1, fields: [flag('opening', true), flag('door_left_open', true)] },
  { id: 0x6e16, minLength: 5, fields: [], decoder: 'xiaomi-s400-body' },
  // body scale S200: profile id, mass 0.01 kg
  { id: 0x4e16, minLength: 3, fields: [f('profile_id', 0, 'u8'), f('mass', 1, 'u16le', { factor: 0.01 })] },
  { id: 0x5413, minLength: 1, fields: [f('occupancy_close_range', 0, 'u8', { bool: true })] },
  // single-button events without a value (PTX, KS2, XMWXKG01LM)
  ...[0x4a0c, 0x4e0c, 0x560c].map((id) => ({ id, minLength: 0, fields: [event('button', 'press')] })),
  ...[0x4a0d, 0x560d].map((id) => ({ id, minLength: 0, fields: [event('button', 'double_press')] })),
  ...[0x4a0e, 0x560e].map((id) => ({ id, minLength: 0, fields: [event('button', 'long_press')] })),
  // toothbrush (T700): state, …, score in the last byte
  {
    id: 0x3003,
    minLength: 6,
    fields: [
      f('toothbrush', 0, 'u8', { bool: true, when: 0 }),
      f('score', 5, 'u8', { onlyIf: { at: 0, equals: 1 } }),
    ],
  },
  { id: 0x4803, minLength: 1, fields: [f('battery', 0, 'u8')] },
  { id: 0x4818, minLength: 2, fields: [flag('motion', false)] },
  {
    id: 0x4a08,
    minLength: 4,
    fields: [flag('motion', true), f('illuminance', 0, 'f32le', { round: 2 })],
  },
  { id: 0x4c01, minLength: 4, fields: [f('temperature', 0, 'f32le', { round: 2 })] },
  { id: 0x4c02, minLength: 1, fields: [f('humidity', 0, 'u8')] },
  { id: 0x4c03, minLength: 1, fields: [f('battery', 0, 'u8')] },
  { id: 0x4c08, minLength: 4, fields: [f('humidity', 0, 'f32le', { round: 2 })] },
];

export const QINGPING_OBJECTS: readonly TlvObject[] = [
  {
    id: 0x01,
    minLength: 4,
    fields: [f('temperature', 0, 's16le', { factor: 0.1 }), f('humidity', 2, 'u16le', { factor: 0.1 })],
  },
  // bit 7 is a flag, not battery
  { id: 0x02, minLength: 1, fields: [f('battery', 0, 'u8', { mask: 0x7f })] },
  { id: 0x07, minLength: 2, fields: [f('pressure', 0, 'u16le', { factor: 0.1 })] },
  { id: 0x08, minLength: 4, fields: [f('motion', 0, 'u8', { bool: true }), f('illuminance', 1, 'u24le')] },
  { id: 0x09, minLength: 4, fields: [f('illuminance', 0, 'u32le')] },
  { id: 0x0f, minLength: 1, fields: [f('packet_id', 0, 'u8')] },
  // 0 = open (Qingping contact sensor)
  { id: 0x04, minLength: 1, fields: [f('opening', 0, 'u8', { bool: true, when: 0 })] },
  { id: 0x11, minLength: 1, fields: [f('motion', 0, 'u8', { bool: true })] },
  { id: 0x12, minLength: 4, fields: [f('pm25', 0, 'u16le'), f('pm10', 2, 'u16le')] },
  { id: 0x13, minLength: 2, fields: [f('carbon_dioxide', 0, 'u16le')] },
];

/** id → row, built once. */
export function objectIndex(rows: readonly TlvObject[]): Map<number, TlvObject> {
  return new Map(rows.map((r) => [r.id, r]));
}

/** Xiaomi product ids (MiBeacon "device type") → model, for the device registry. */
export const MIBEACON_MODELS: Record<number, string> = {
  152: 'HHCCJCY01',
  349: 'HHCCPOT002',
  426: 'LYWSDCGQ',
  735: 'JQJCY01YM',
  839: 'CGG1',
  903: 'MHO-C401',
  956: 'GCLS002',
  1115: 'LYWSD02',
  1371: 'LYWSD03MMC',
  1398: 'CGD1',
  1647: 'CGDK2',
  1747: 'MHO-C303',
  2038: 'MJYD02YL',
  2147: 'SJWS01LM',
  2691: 'CGPR1',
  2701: 'RTCGQ02LM',
  2888: 'CGG1-ENCRYPTED',
  2443: 'MCCGQ02HL',
  3132: 'CGC1',
  5860: 'LYWSD02MMC',
  9538: 'LYWSD02MMC',
  21941: 'MJWSD06MMC',
};

// Fixed-layout formats as data: where each value sits, how it is encoded, how to
// scale it. One engine reads every table (decodeLayout) and the simulators write
// with the same rows (encodeLayout), so a table change moves both halves.
import { NUM_SIZE, type NumType, readNum, roundScaled, writeNum } from './bytes.js';
import type { MeasurementValue } from './types.js';

/** Value transforms for encodings a factor cannot express. Pure, defined once. */
export interface Codec {
  /** raw → value; undefined = absent, 'error' = the device flags a sensor error */
  decode(raw: number): number | 'error' | undefined;
  /** value → raw, given the raw bits other fields already wrote to the same bytes */
  encode(value: number, previous: number): number;
}

/** Govee's packed 24-bit temperature+humidity: sign bit 23, then temp×10×1000 + hum×10. */
const goveeMagnitude = (raw: number) => raw & 0x7fffff;
export const CODECS = {
  'govee-packed-temperature': {
    decode(raw) {
      const t = Math.trunc(goveeMagnitude(raw) / 1000) / 10;
      const v = raw & 0x800000 ? -t : t;
      return v < -40 || v > 100 ? 'error' : v;
    },
    encode(value, previous) {
      const hum = goveeMagnitude(previous) % 1000;
      return (Math.round(Math.abs(value) * 10) * 1000 + hum) | (value < 0 ? 0x800000 : 0);
    },
  },
  'govee-packed-humidity': {
    decode(raw) {
      const t = Math.trunc(goveeMagnitude(raw) / 1000) / 10;
      if (t > 100) return 'error';
      return (goveeMagnitude(raw) % 1000) / 10;
    },
    encode(value, previous) {
      const base = goveeMagnitude(previous) - (goveeMagnitude(previous) % 1000);
      return (base + Math.round(value * 10)) | (previous & 0x800000);
    },
  },
  /** Govee H5106: 32-bit sign bit, then temp×10×10⁶ + hum×10×10³ + PM2.5. */
  'govee-h5106-temperature': {
    decode(raw) {
      const t = Math.trunc((raw & 0x7fffffff) / 1_000_000) / 10;
      return raw & 0x80000000 ? -t : t;
    },
    encode(value, previous) {
      const rest = (previous & 0x7fffffff) % 1_000_000;
      return ((Math.round(Math.abs(value) * 10) * 1_000_000 + rest) | (value < 0 ? 0x80000000 : 0)) >>> 0;
    },
  },
  'govee-h5106-humidity': {
    decode(raw) {
      return Math.trunc(((raw & 0x7fffffff) % 1_000_000) / 1000) / 10;
    },
    encode(value, previous) {
      const m = previous & 0x7fffffff;
      return (
        ((m - (m % 1_000_000) + Math.round(value * 10) * 1000 + (m % 1000)) | (previous & 0x80000000)) >>> 0
      );
    },
  },
  'govee-h5106-pm25': {
    decode(raw) {
      return (raw & 0x7fffffff) % 1000;
    },
    encode(value, previous) {
      const m = previous & 0x7fffffff;
      return ((m - (m % 1000) + Math.round(value)) | (previous & 0x80000000)) >>> 0;
    },
  },
  /** Govee probe temperatures and alarm set points: 0.01 °C big-endian, 0xFFFF (unset / unplugged) reads 0 as govee-ble does */
  'govee-probe': {
    decode(raw) {
      return raw === 0xffff ? 0 : raw / 100;
    },
    encode(value) {
      return Math.round(value * 100);
    },
  },
  /** tenths of a degree Fahrenheit, reported in °C (CONTRACT §5) */
  'fahrenheit-tenths': {
    decode(raw) {
      return (((raw << 16) >> 16) / 10 - 32) * (5 / 9);
    },
    encode(value) {
      return Math.round((value * (9 / 5) + 32) * 10) & 0xffff;
    },
  },
  /** SwitchBot: byte 0 low nibble = tenths, byte 1 bits 0-6 = degrees, bit 7 set = positive. */
  'switchbot-temperature': {
    decode(raw) {
      const tenths = (raw >> 8) & 0x0f;
      const deg = raw & 0x7f;
      const v = deg + tenths / 10;
      return raw & 0x80 ? v : -v;
    },
    encode(value, previous) {
      const abs = Math.round(Math.abs(value) * 10);
      return (
        (previous & 0xf000) | ((abs % 10) << 8) | (Math.trunc(abs / 10) & 0x7f) | (value >= 0 ? 0x80 : 0)
      );
    },
  },
  /** Ruuvi RAWv1: byte 0 = sign bit + whole degrees, byte 1 = hundredths. */
  'ruuvi-v1-temperature': {
    decode(raw) {
      const whole = (raw >> 8) & 0x7f;
      const v = whole + (raw & 0xff) / 100;
      return Math.round((raw & 0x8000 ? -v : v) * 100) / 100;
    },
    encode(value) {
      const abs = Math.round(Math.abs(value) * 100);
      return ((Math.trunc(abs / 100) | (value < 0 ? 0x80 : 0)) << 8) | (abs % 100);
    },
  },
  /** Ruuvi RAWv2 power field: top 11 bits = battery mV above 1600, low 5 bits = tx power in 2 dBm above -40. */
  'ruuvi-v2-voltage': {
    decode(raw) {
      const mv = raw >> 5;
      return mv === 0x7ff ? undefined : (mv + 1600) / 1000;
    },
    encode(value, previous) {
      return ((Math.round(value * 1000) - 1600) << 5) | (previous & 0x1f);
    },
  },
  'ruuvi-v2-tx-power': {
    decode(raw) {
      const tx = raw & 0x1f;
      return tx === 0x1f ? undefined : tx * 2 - 40;
    },
    encode(value, previous) {
      return (previous & 0xffe0) | ((Math.round(value) + 40) / 2);
    },
  },
} satisfies Record<string, Codec>;

export type CodecName = keyof typeof CODECS;

export interface LayoutField {
  /** measurement name; fixed, not auto-numbered (probes keep their number) */
  name: string;
  /** byte offset in the frame */
  at: number;
  type: NumType;
  /** value = (raw >> shift & mask) × factor + add */
  factor?: number;
  add?: number;
  shift?: number;
  mask?: number;
  /** a boolean: (masked raw) !== 0, or === `when` */
  bool?: boolean;
  when?: number;
  /** boolean: true when the raw value is one of these */
  whenIn?: readonly number[];
  /** boolean: true when the raw value is at least this */
  atLeast?: number;
  /** an event: the name for each raw value (missing = no event) */
  events?: readonly string[];
  codec?: CodecName;
  /** decimals to keep (float fields) */
  round?: number;
  /** the object's presence alone means this value (MiBeacon "motion detected" objects) */
  constant?: MeasurementValue;
  /** the field applies only when the byte at `at` equals `equals` (a state byte selects what follows) */
  onlyIf?: { at: number; equals: number; mask?: number };
  /** raw values that make the whole frame invalid (the device says its reading is garbage) */
  reject?: readonly number[];
  /** raw values above this make the whole frame invalid */
  rejectAbove?: number;
  /** TLV objects: this field applies only when the object's value is empty */
  onlyEmpty?: boolean;
  /** raw values that mean "not connected / not measured": the value is left out */
  absent?: readonly number[];
  /** a bit in another byte that, when set, marks this value as 'error' (as govee-ble reports it) */
  errorFlag?: { at: number; mask: number };
}

export interface LayoutMatch {
  serviceUuid?: string;
  companyId?: number;
  /** frame lengths this layout accepts (the frame includes the company id when `withCompanyId`) */
  length?: readonly number[];
  minLength?: number;
  /** bytes that must be at the start of the frame */
  prefix?: readonly number[];
  /** local name must start with one of these */
  namePrefix?: readonly string[];
  /** the first byte masked with `mask` must equal `value` (model byte) */
  firstByte?: { mask: number; value: number };
  /** the advertisement lists this 16-bit service UUID (Govee meat thermometers name their model so) */
  listedUuid?: string;
  /** other lengths are other models of the same vendor (unsupported), not broken frames */
  otherLengthsUnsupported?: boolean;
}

export interface LayoutFormat {
  /** the `format` reported in results */
  format: string;
  /** a stable id for the table row (format + model) */
  id: string;
  device: { manufacturer: string; model: string };
  match: LayoutMatch;
  /** manufacturer formats that keep a value in the company-id bytes (Inkbird IBS-TH) */
  withCompanyId?: boolean;
  fields: readonly LayoutField[];
  packetId?: { at: number; type: NumType };
  /** a model we recognise but do not decode: the reason, returned as `unsupported` */
  unsupported?: string;
  /** where the frame repeats the sender's MAC (reversed = least significant byte first) */
  mac?: { at: number; reversed: boolean };
}

/** Reads one field; undefined when the device says "absent". */
export function readField(frame: Uint8Array, f: LayoutField): MeasurementValue | undefined {
  if (f.onlyIf && (frame[f.onlyIf.at]! & (f.onlyIf.mask ?? 0xff)) !== f.onlyIf.equals) return undefined;
  if (f.constant !== undefined) return f.constant;
  let raw = readNum(frame, f.at, f.type);
  if (f.absent?.includes(raw)) return undefined;
  if (f.shift) raw = raw >>> f.shift;
  if (f.mask !== undefined) raw &= f.mask;
  if (f.errorFlag && (frame[f.errorFlag.at]! & f.errorFlag.mask) !== 0) return 'error';
  if (f.bool) {
    if (f.whenIn) return f.whenIn.includes(raw);
    if (f.atLeast !== undefined) return raw >= f.atLeast;
    return f.when === undefined ? raw !== 0 : raw === f.when;
  }
  if (f.events) return f.events[raw] || undefined;
  if (f.codec) return CODECS[f.codec].decode(raw);
  const factor = f.factor ?? 1;
  const v = raw * factor + (f.add ?? 0);
  if (f.round !== undefined) {
    const p = 10 ** f.round;
    return Math.round(v * p) / p;
  }
  return factor === 1 && f.add === undefined ? v : roundScaled(v, factor);
}

export function fieldEnd(f: LayoutField): number {
  return f.at + NUM_SIZE[f.type];
}

export interface RejectedFrame {
  /** the field whose value makes the device's whole frame invalid */
  rejectedBy: LayoutField;
}

/** The frame's measurements, or the field whose value the device marks invalid for the whole frame. */
export function decodeLayout(
  frame: Uint8Array,
  layout: LayoutFormat,
): Record<string, MeasurementValue> | RejectedFrame {
  const out: Record<string, MeasurementValue> = {};
  for (const f of layout.fields) {
    if (fieldEnd(f) > frame.length) continue;
    if (f.reject !== undefined || f.rejectAbove !== undefined) {
      const raw = readNum(frame, f.at, f.type);
      if (f.reject?.includes(raw) || (f.rejectAbove !== undefined && raw > f.rejectAbove))
        return { rejectedBy: f };
    }
    const v = readField(frame, f);
    if (v !== undefined) out[f.name] = v;
  }
  return out;
}

/** The inverse of readField, for the simulators: writes `value` into `frame`. */
export function writeField(frame: Uint8Array, f: LayoutField, value: MeasurementValue): void {
  if (f.constant !== undefined) return;
  if (f.onlyIf) frame[f.onlyIf.at] = (frame[f.onlyIf.at]! & ~(f.onlyIf.mask ?? 0xff)) | f.onlyIf.equals;
  const previous = readNum(frame, f.at, f.type);
  let raw: number;
  if (f.codec) raw = CODECS[f.codec].encode(Number(value), previous);
  else if (f.events) raw = Math.max(0, f.events.indexOf(String(value)));
  else if (f.bool) {
    // a masked flag (bit 6 of a status byte) is set by writing the mask itself
    const yes =
      f.whenIn?.[0] ?? f.atLeast ?? f.when ?? (f.mask !== undefined ? f.mask >>> (f.shift ?? 0) : 1);
    const no = f.whenIn ? [0, 1, 2, 3, 4].find((n) => !f.whenIn!.includes(n))! : f.when === 0 ? 1 : 0;
    raw = value ? yes : no;
  } else raw = Math.round((Number(value) - (f.add ?? 0)) / (f.factor ?? 1));
  if (f.mask !== undefined || f.shift) {
    const mask = (f.mask ?? 0xffffffff) << (f.shift ?? 0);
    raw = (previous & ~mask) | ((raw << (f.shift ?? 0)) & mask);
  }
  writeNum(frame, f.at, f.type, raw);
}

/** A frame of `length` bytes with the table's prefix/model byte and the given values. */
export function encodeLayout(
  layout: LayoutFormat,
  length: number,
  values: Record<string, MeasurementValue>,
): Uint8Array {
  const frame = new Uint8Array(length);
  if (layout.match.prefix) frame.set(layout.match.prefix, 0);
  if (layout.match.firstByte)
    frame[0] = (frame[0]! & ~layout.match.firstByte.mask) | layout.match.firstByte.value;
  // a state byte, once set by a field, decides which of the other state-dependent fields apply
  const states = new Map<number, number>();
  for (const f of layout.fields) {
    if (fieldEnd(f) > length) continue;
    const v = values[f.name];
    if (v === undefined) {
      if (f.absent?.[0] !== undefined) writeNum(frame, f.at, f.type, f.absent[0]);
      continue;
    }
    if (f.onlyIf) {
      const state = states.get(f.onlyIf.at);
      if (state !== undefined && state !== f.onlyIf.equals) continue;
      states.set(f.onlyIf.at, f.onlyIf.equals);
    }
    writeField(frame, f, v);
  }
  return frame;
}

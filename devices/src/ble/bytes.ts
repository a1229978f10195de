// Byte readers shared by every table. A field names its encoding by one of these
// tags; the engine looks the reader up once per field, never builds a closure
// per packet.

export type NumType =
  | 'u8'
  | 's8'
  | 'u16le'
  | 's16le'
  | 'u16be'
  | 's16be'
  | 'u24le'
  | 's24le'
  | 'u24be'
  | 's24be'
  | 'u32le'
  | 's32le'
  | 'u32be'
  | 's32be'
  | 'f32le';

export const NUM_SIZE: Record<NumType, number> = {
  u8: 1,
  s8: 1,
  u16le: 2,
  s16le: 2,
  u16be: 2,
  s16be: 2,
  u24le: 3,
  s24le: 3,
  u24be: 3,
  s24be: 3,
  u32le: 4,
  s32le: 4,
  u32be: 4,
  s32be: 4,
  f32le: 4,
};

const f32 = new DataView(new ArrayBuffer(4));

/** Reads one number; the caller has checked `at + NUM_SIZE[type] <= b.length`. */
export function readNum(b: Uint8Array, at: number, type: NumType): number {
  switch (type) {
    case 'u8':
      return b[at]!;
    case 's8':
      return (b[at]! << 24) >> 24;
    case 'u16le':
      return b[at]! | (b[at + 1]! << 8);
    case 's16le':
      return ((b[at]! | (b[at + 1]! << 8)) << 16) >> 16;
    case 'u16be':
      return (b[at]! << 8) | b[at + 1]!;
    case 's16be':
      return (((b[at]! << 8) | b[at + 1]!) << 16) >> 16;
    case 'u24le':
      return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
    case 's24le':
      return ((b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) << 8) >> 8;
    case 'u24be':
      return (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!;
    case 's24be':
      return (((b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!) << 8) >> 8;
    case 'u32le':
      return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
    case 's32le':
      return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
    case 'u32be':
      return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
    case 's32be':
      return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
    case 'f32le':
      f32.setUint8(0, b[at]!);
      f32.setUint8(1, b[at + 1]!);
      f32.setUint8(2, b[at + 2]!);
      f32.setUint8(3, b[at + 3]!);
      return f32.getFloat32(0, true);
  }
}

/** Writes one number (the encoders' half); out-of-range values wrap as the wire would. */
export function writeNum(b: Uint8Array, at: number, type: NumType, value: number): void {
  const size = NUM_SIZE[type];
  if (type === 'f32le') {
    f32.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) b[at + i] = f32.getUint8(i);
    return;
  }
  const v = Math.round(value);
  const big = type.endsWith('be');
  for (let i = 0; i < size; i++) {
    const byte = Number((BigInt(v) >> BigInt(8 * i)) & 0xffn);
    b[big ? at + size - 1 - i : at + i] = byte;
  }
}

/** Rounds away binary noise from a scaled integer (0.1 * 215 = 21.500000000000004). */
const POWERS = new Map<number, number>();

export function roundScaled(value: number, factor: number): number {
  if (Number.isInteger(factor)) return value;
  // tables use a handful of factors: the power of ten for each is worked out once
  let p = POWERS.get(factor);
  if (p === undefined) {
    p = 10 ** Math.min(10, Math.max(0, Math.ceil(-Math.log10(factor)) + 1));
    POWERS.set(factor, p);
  }
  return Math.round(value * p) / p;
}

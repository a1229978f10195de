// ESP-IDF NVS partition format, version 2 (components/nvs_flash/src/nvs_page.hpp,
// nvs_types.hpp; "NVS internals" in the ESP-IDF programming guide).
//
// A partition is 4096-byte pages. Page:
//    0  state (u32): 0xFFFFFFFF empty, 0xFFFFFFFE active, 0xFFFFFFFC full, 0xFFFFFFF8 freeing
//    4  sequence number (u32)
//    8  version: 0xFE = format version 2
//    9  19 reserved bytes (0xFF)
//   28  CRC32 of bytes 4..28
//   32  entry state bitmap: 2 bits per entry, entry i in bits 2*(i%4) of byte i/4:
//       0b11 empty, 0b10 written, 0b00 erased
//   64  126 entries of 32 bytes
// Entry:
//    0  namespace index (0 = the entry defines a namespace: key = name, u8 value = index)
//    1  type            2  span (entries used, this one included)
//    3  chunk index (0xFF unless BLOB_DATA)
//    4  CRC32 of bytes 0..4 and 8..32
//    8  key, 16 bytes NUL-padded (at most 15 characters)
//   24  data: integers little-endian (unused bytes 0xFF);
//       SZ / BLOB_DATA: size (u16), 0xFFFF, CRC32 of the data, which fills the next span-1 entries;
//       BLOB_IDX: total size (u32), chunk count (u8), first chunk index (u8), 0xFFFF
// All CRC32s are ESP-IDF's (crc.ts `nvsCrc32`).

import { FirmwareFormatError } from '../format-error.js';

export const PAGE_SIZE = 4096;
export const ENTRY_SIZE = 32;
export const ENTRIES_PER_PAGE = 126;
export const FIRST_ENTRY_OFFSET = 64;
export const BITMAP_OFFSET = 32;
export const FORMAT_VERSION_2 = 0xfe;
export const CHUNK_ANY = 0xff;
export const MAX_KEY_LENGTH = 15;
/** a string (with its NUL) must fit in one page (nvs_partition_gen max_blob_size for v2 strings) */
export const MAX_STRING_SIZE = 4000;
/** nvs_flash needs 3 pages to initialise read-write (one is kept free for garbage collection) */
export const MIN_PARTITION_SIZE = 3 * PAGE_SIZE;

export const PAGE_STATE = {
  empty: 0xffffffff,
  active: 0xfffffffe,
  full: 0xfffffffc,
  freeing: 0xfffffff8,
  corrupt: 0xfffffff0,
  invalid: 0x00000000,
} as const;

export const ENTRY_STATE = { empty: 0b11, written: 0b10, erased: 0b00 } as const;

/** ItemType, by the names nvs_partition_gen's CSV uses as encodings */
export const ITEM_TYPES = {
  u8: 0x01,
  i8: 0x11,
  u16: 0x02,
  i16: 0x12,
  u32: 0x04,
  i32: 0x14,
  u64: 0x08,
  i64: 0x18,
  string: 0x21,
  blob_v1: 0x41,
  blob_data: 0x42,
  blob_index: 0x48,
} as const;

export type IntegerType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64';

/** byte width and range of each integer type */
export const INTEGER_TYPES: Readonly<Record<IntegerType, { bytes: number; signed: boolean }>> = {
  u8: { bytes: 1, signed: false },
  i8: { bytes: 1, signed: true },
  u16: { bytes: 2, signed: false },
  i16: { bytes: 2, signed: true },
  u32: { bytes: 4, signed: false },
  i32: { bytes: 4, signed: true },
  u64: { bytes: 8, signed: false },
  i64: { bytes: 8, signed: true },
};

export type NvsValue =
  | { type: IntegerType; value: bigint | number }
  | { type: 'string'; value: string }
  | { type: 'blob'; value: Uint8Array };

/** One key in one namespace, in the order it is written. */
export type NvsItem = { namespace: string; key: string } & NvsValue;

export type NvsErrorReason =
  | 'bad-size'
  | 'bad-key'
  | 'bad-value'
  | 'too-many-namespaces'
  | 'does-not-fit'
  | 'bad-page-crc'
  | 'bad-page-version'
  | 'bad-entry-crc'
  | 'bad-data-crc'
  | 'bad-span'
  | 'unknown-type'
  | 'unknown-namespace'
  | 'incomplete-blob'
  | 'bad-input';

export class NvsFormatError extends FirmwareFormatError<NvsErrorReason> {
  readonly format = 'nvs';
  override name = 'NvsFormatError';
}

export function integerRange(type: IntegerType): { min: bigint; max: bigint } {
  const { bytes, signed } = INTEGER_TYPES[type];
  const bits = BigInt(bytes * 8);
  return signed
    ? { min: -(1n << (bits - 1n)), max: (1n << (bits - 1n)) - 1n }
    : { min: 0n, max: (1n << bits) - 1n };
}

/** The CRC input of an entry: bytes 0..4 and 8..32 (everything but the CRC itself). */
export function entryCrcInput(entry: Uint8Array): Uint8Array {
  const input = new Uint8Array(28);
  input.set(entry.subarray(0, 4), 0);
  input.set(entry.subarray(8, 32), 4);
  return input;
}

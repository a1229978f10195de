// The binary partition table ESP-IDF's bootloader reads (esp_flash_partitions.h,
// esp_partition_info_t), one 32-byte entry per partition:
//   0  magic 0xAA 0x50        4  offset (u32 LE)   24 label, NUL-padded
//   2  type                   8  size (u32 LE)     28 flags (u32 LE): bit 0 encrypted, bit 1 readonly
//   3  subtype               12  label[16]
// then the MD5 entry (0xEB 0xEB, 14 x 0xFF, MD5 of all entries before it), then 0xFF
// up to 0xC00 bytes; a row of 32 x 0xFF ends the table.

import { md5, toHex } from '../hash.js';
import {
  ENTRY_MAGIC,
  ENTRY_SIZE,
  FLAG_ENCRYPTED,
  FLAG_READONLY,
  MAX_TABLE_LENGTH,
  MD5_MAGIC,
  type PartitionEntry,
  PartitionTableError,
} from './types.js';

export interface EncodeOptions {
  /** write the MD5 entry (ESP-IDF does unless CONFIG_PARTITION_TABLE_MD5 is off); default true */
  md5?: boolean;
}

export function encodePartitionTable(
  entries: readonly PartitionEntry[],
  options: EncodeOptions = {},
): Uint8Array {
  const withMd5 = options.md5 ?? true;
  const needed = (entries.length + (withMd5 ? 1 : 0)) * ENTRY_SIZE;
  // one all-0xFF row must remain to end the table
  if (needed > MAX_TABLE_LENGTH - ENTRY_SIZE)
    throw new PartitionTableError(
      'too-many-entries',
      `${entries.length} partitions do not fit in the ${MAX_TABLE_LENGTH}-byte partition table`,
    );
  const out = new Uint8Array(MAX_TABLE_LENGTH).fill(0xff);
  const view = new DataView(out.buffer);
  entries.forEach((entry, index) => {
    const at = index * ENTRY_SIZE;
    const label = new TextEncoder().encode(entry.name);
    if (label.length > 16)
      throw new PartitionTableError(
        'name-too-long',
        `partition name "${entry.name}" is longer than 16 bytes`,
      );
    view.setUint16(at, ENTRY_MAGIC, true);
    out[at + 2] = entry.type;
    out[at + 3] = entry.subtype;
    view.setUint32(at + 4, entry.offset, true);
    view.setUint32(at + 8, entry.size, true);
    out.fill(0, at + 12, at + 28);
    out.set(label, at + 12);
    view.setUint32(
      at + 28,
      (entry.encrypted ? FLAG_ENCRYPTED : 0) | (entry.readonly ? FLAG_READONLY : 0),
      true,
    );
  });
  if (withMd5) {
    const at = entries.length * ENTRY_SIZE;
    view.setUint16(at, MD5_MAGIC, true);
    out.set(md5(out.subarray(0, at)), at + 16);
  }
  return out;
}

export interface DecodedTable {
  entries: PartitionEntry[];
  /** whether an MD5 entry was present (and matched: a mismatch throws) */
  md5: boolean;
}

/** Reads a binary table (a whole 0xC00 block, a 4 KiB sector, or just the rows up to the end marker). */
export function decodePartitionTable(bytes: Uint8Array): DecodedTable {
  const entries: PartitionEntry[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let sawMd5 = false;
  for (let at = 0; at < Math.min(bytes.length, MAX_TABLE_LENGTH); at += ENTRY_SIZE) {
    if (at + ENTRY_SIZE > bytes.length)
      throw new PartitionTableError(
        'bad-length',
        `partition table length ${bytes.length} is not a multiple of 32 bytes`,
      );
    const row = bytes.subarray(at, at + ENTRY_SIZE);
    if (row.every((b) => b === 0xff)) return { entries, md5: sawMd5 };
    const magic = view.getUint16(at, true);
    if (magic === MD5_MAGIC) {
      const stored = toHex(row.subarray(16));
      const computed = toHex(md5(bytes.subarray(0, at)));
      if (stored !== computed)
        throw new PartitionTableError(
          'bad-md5',
          `partition table MD5 does not match its entries (stored ${stored}, computed ${computed})`,
        );
      sawMd5 = true;
      continue;
    }
    if (magic !== ENTRY_MAGIC)
      throw new PartitionTableError(
        'bad-magic',
        `partition entry ${entries.length} at byte 0x${at.toString(16)} has magic 0x${magic.toString(16).padStart(4, '0')}, expected 0x50aa`,
      );
    const label = row.subarray(12, 28);
    const end = label.indexOf(0);
    const flags = view.getUint32(at + 28, true);
    entries.push({
      name: new TextDecoder().decode(end === -1 ? label : label.subarray(0, end)),
      type: row[2]!,
      subtype: row[3]!,
      offset: view.getUint32(at + 4, true),
      size: view.getUint32(at + 8, true),
      encrypted: (flags & FLAG_ENCRYPTED) !== 0,
      readonly: (flags & FLAG_READONLY) !== 0,
    });
  }
  throw new PartitionTableError(
    'no-end-marker',
    'partition table has no end marker (a row of 0xFF) within 0xC00 bytes',
  );
}

// `esp_app_desc_t` (ESP-IDF components/esp_app_format/include/esp_app_desc.h): 256 bytes
// at the start of the first DROM segment, where the app finds its own version.
//
// offset size field
//      0    4 magic_word (0xABCD5432)
//      4    4 secure_version (anti-rollback)
//      8    8 reserv1[2]
//     16   32 version        (NUL-terminated)
//     48   32 project_name
//     80   16 time
//     96   16 date
//    112   32 idf_ver
//    144   32 app_elf_sha256
//    176    2 min_efuse_blk_rev_full
//    178    2 max_efuse_blk_rev_full
//    180    1 mmu_page_size (log2; 0 = unset in older IDF)
//    181   75 reserved

import { toHex } from '../hash.js';
import { APP_DESC_MAGIC, APP_DESC_SIZE, ImageFormatError } from './format.js';

export interface AppDescription {
  secureVersion: number;
  version: string;
  projectName: string;
  time: string;
  date: string;
  idfVersion: string;
  /** hex, 64 characters */
  appElfSha256: string;
  minEfuseBlockRevision: number;
  maxEfuseBlockRevision: number;
}

const FIELDS = {
  version: [16, 32],
  projectName: [48, 32],
  time: [80, 16],
  date: [96, 16],
  idfVersion: [112, 32],
} as const;

function readCString(bytes: Uint8Array, offset: number, size: number): string {
  const field = bytes.subarray(offset, offset + size);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end === -1 ? field : field.subarray(0, end));
}

/** The description at the start of `segmentData`, or undefined when the magic word is absent. */
export function parseAppDescription(segmentData: Uint8Array): AppDescription | undefined {
  if (segmentData.length < APP_DESC_SIZE) return undefined;
  const view = new DataView(segmentData.buffer, segmentData.byteOffset, APP_DESC_SIZE);
  if (view.getUint32(0, true) !== APP_DESC_MAGIC) return undefined;
  return {
    secureVersion: view.getUint32(4, true),
    version: readCString(segmentData, ...FIELDS.version),
    projectName: readCString(segmentData, ...FIELDS.projectName),
    time: readCString(segmentData, ...FIELDS.time),
    date: readCString(segmentData, ...FIELDS.date),
    idfVersion: readCString(segmentData, ...FIELDS.idfVersion),
    appElfSha256: toHex(segmentData.subarray(144, 176)),
    minEfuseBlockRevision: view.getUint16(176, true),
    maxEfuseBlockRevision: view.getUint16(178, true),
  };
}

export const DEFAULT_APP_DESCRIPTION: AppDescription = {
  secureVersion: 0,
  version: '0.0.0',
  projectName: 'picket',
  time: '00:00:00',
  date: 'Jan  1 2026',
  idfVersion: 'v5.3',
  appElfSha256: '0'.repeat(64),
  minEfuseBlockRevision: 0,
  maxEfuseBlockRevision: 0xffff,
};

export function encodeAppDescription(input: Partial<AppDescription> = {}): Uint8Array {
  const desc = { ...DEFAULT_APP_DESCRIPTION, ...input };
  const out = new Uint8Array(APP_DESC_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, APP_DESC_MAGIC, true);
  view.setUint32(4, desc.secureVersion, true);
  for (const [key, [offset, size]] of Object.entries(FIELDS) as [keyof typeof FIELDS, [number, number]][]) {
    const text = new TextEncoder().encode(desc[key]);
    // the C field is NUL-terminated, so one byte is lost to the terminator
    if (text.length > size - 1)
      throw new ImageFormatError('bad-option', `app description ${key} is longer than ${size - 1} bytes`);
    out.set(text, offset);
  }
  if (!/^[0-9a-f]{64}$/i.test(desc.appElfSha256))
    throw new ImageFormatError('bad-option', 'app description appElfSha256 must be 64 hex characters');
  for (let i = 0; i < 32; i++) out[144 + i] = Number.parseInt(desc.appElfSha256.slice(i * 2, i * 2 + 2), 16);
  view.setUint16(176, desc.minEfuseBlockRevision, true);
  view.setUint16(178, desc.maxEfuseBlockRevision, true);
  return out;
}

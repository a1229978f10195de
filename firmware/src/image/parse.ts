// Reads an ESP app image (esp_app_format.h; checksum/SHA-256 placement as in esptool's
// bin_image.py). Structure problems throw ImageFormatError; a wrong checksum or digest is
// a finding, reported as `valid: false`, because `image info` must still show the rest.
//
// Common header (8 bytes):      Extended header (16 bytes):
//   0 magic 0xE9                  8 wp_pin (0xEE = none)
//   1 segment count               9 spi_pin_drv[3]
//   2 spi_mode                   12 chip_id (u16)
//   3 spi_speed | spi_size << 4  14 min_chip_rev (legacy, major only)
//   4 entry_addr (u32)           15 min_chip_rev_full (u16, major*100+minor)
//                                17 max_chip_rev_full (u16)
//                                19 reserved[4]
//                                23 hash_appended
// Then per segment: load_addr (u32), data_len (u32), data. Then zero padding so that the
// one-byte checksum (XOR of all segment data, seeded 0xEF) ends on a 16-byte boundary,
// then, when hash_appended, the SHA-256 of everything before it.

import { type ChipInfo, type ChipName, chipByImageId, type MemoryType, memoryTypeAt } from '../chips.js';
import { sha256, toHex } from '../hash.js';
import { type AppDescription, parseAppDescription } from './app-desc.js';
import {
  CHECKSUM_SEED,
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC,
  ImageFormatError,
  MAX_SEGMENTS,
  SEGMENT_HEADER_SIZE,
  SHA256_SIZE,
  xorBytes,
} from './format.js';

export interface ImageHeader {
  segmentCount: number;
  spiMode: number;
  spiSpeed: number;
  flashSize: number;
  entry: number;
  wpPin: number;
  spiPinDrive: [number, number, number];
  chipId: number;
  minChipRevision: number;
  minChipRevisionFull: number;
  maxChipRevisionFull: number;
  hashAppended: boolean;
}

export interface ImageSegment {
  loadAddress: number;
  /** where the segment's 8-byte header starts in the file (what esptool prints as "File offs") */
  headerOffset: number;
  /** where the segment's data starts in the file */
  fileOffset: number;
  data: Uint8Array;
  memory: MemoryType | undefined;
}

export interface DigestCheck {
  stored: string;
  computed: string;
  valid: boolean;
}

export interface ParsedImage {
  header: ImageHeader;
  chip: ChipInfo | undefined;
  segments: ImageSegment[];
  checksum: { stored: number; computed: number; valid: boolean };
  /** present when the header says a SHA-256 is appended */
  sha256: DigestCheck | undefined;
  appDescription: AppDescription | undefined;
  /** bytes the image occupies (anything after it, e.g. 0xFF of a flash read, is ignored) */
  length: number;
}

function need(bytes: Uint8Array, end: number, what: string): void {
  if (bytes.length < end)
    throw new ImageFormatError(
      'truncated',
      `image truncated: ${what} needs ${end} bytes, the file has ${bytes.length}`,
    );
}

export function parseImageHeader(bytes: Uint8Array): ImageHeader {
  need(bytes, IMAGE_HEADER_SIZE, 'the header');
  if (bytes[0] !== IMAGE_MAGIC)
    throw new ImageFormatError(
      'bad-magic',
      `not an ESP app image: first byte is 0x${bytes[0]!.toString(16).padStart(2, '0')}, expected 0xe9`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, IMAGE_HEADER_SIZE);
  return {
    segmentCount: bytes[1]!,
    spiMode: bytes[2]!,
    spiSpeed: bytes[3]! & 0x0f,
    flashSize: bytes[3]! >> 4,
    entry: view.getUint32(4, true),
    wpPin: bytes[8]!,
    spiPinDrive: [bytes[9]!, bytes[10]!, bytes[11]!],
    chipId: view.getUint16(12, true),
    minChipRevision: bytes[14]!,
    minChipRevisionFull: view.getUint16(15, true),
    maxChipRevisionFull: view.getUint16(17, true),
    hashAppended: bytes[23] === 1,
  };
}

export function parseImage(bytes: Uint8Array): ParsedImage {
  const header = parseImageHeader(bytes);
  if (header.segmentCount > MAX_SEGMENTS)
    throw new ImageFormatError(
      'too-many-segments',
      `image header declares ${header.segmentCount} segments, at most ${MAX_SEGMENTS} are allowed`,
    );
  const chip = chipByImageId(header.chipId);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments: ImageSegment[] = [];
  let offset = IMAGE_HEADER_SIZE;
  let checksum = CHECKSUM_SEED;
  for (let index = 0; index < header.segmentCount; index++) {
    need(bytes, offset + SEGMENT_HEADER_SIZE, `segment ${index}'s header`);
    const loadAddress = view.getUint32(offset, true);
    const length = view.getUint32(offset + 4, true);
    const dataOffset = offset + SEGMENT_HEADER_SIZE;
    if (dataOffset + length > bytes.length)
      throw new ImageFormatError(
        'segment-overflow',
        `segment ${index} (load 0x${loadAddress.toString(16)}) declares ${length} bytes at file offset 0x${dataOffset.toString(16)}, past the end of the ${bytes.length}-byte file`,
      );
    const data = bytes.subarray(dataOffset, dataOffset + length);
    checksum = xorBytes(checksum, data);
    segments.push({
      loadAddress,
      headerOffset: offset,
      fileOffset: dataOffset,
      data,
      memory: chip ? memoryTypeAt(chip, loadAddress) : undefined,
    });
    offset = dataOffset + length;
  }
  // the checksum byte sits at the last byte of the 16-byte block the segments end in
  const checksumOffset = offset + (15 - (offset % 16));
  need(bytes, checksumOffset + 1, 'the checksum byte');
  const stored = bytes[checksumOffset]!;
  let length = checksumOffset + 1;
  let digest: DigestCheck | undefined;
  if (header.hashAppended) {
    need(bytes, length + SHA256_SIZE, 'the appended SHA-256');
    const computed = toHex(sha256(bytes.subarray(0, length)));
    const storedDigest = toHex(bytes.subarray(length, length + SHA256_SIZE));
    digest = { stored: storedDigest, computed, valid: storedDigest === computed };
    length += SHA256_SIZE;
  }
  // esptool image_info reads esp_app_desc_t from the first segment mapped as DROM
  const drom = chip ? segments.find((s) => s.memory === 'DROM') : segments[0];
  return {
    header,
    chip,
    segments,
    checksum: { stored, computed: checksum, valid: stored === checksum },
    sha256: digest,
    appDescription: drom ? parseAppDescription(drom.data) : undefined,
    length,
  };
}

/**
 * Throws unless `bytes` is an app image built for `chip` (the chip id in its extended
 * header): flashing an image for another chip boots into a ROM error loop.
 */
export function assertImageForChip(bytes: Uint8Array, chip: ChipName): ParsedImage {
  const image = parseImage(bytes);
  if (image.chip?.name !== chip)
    throw new ImageFormatError(
      'wrong-chip',
      `the image is built for ${image.chip?.name ?? `chip id ${image.header.chipId}`}, not ${chip}`,
    );
  return image;
}

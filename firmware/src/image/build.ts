// Writes valid ESP app images (layout in parse.ts), for tests, simulators and the flasher's
// tests: real images with a real esp_app_desc_t, optionally padded to an exact size
// (1 MB, 4 MB…) with deterministic filler so runs are repeatable.

import { CHIPS, type ChipName } from '../chips.js';
import { sha256 } from '../hash.js';
import { type AppDescription, encodeAppDescription } from './app-desc.js';
import {
  CHECKSUM_SEED,
  FLASH_SIZES,
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC,
  ImageFormatError,
  MAX_SEGMENTS,
  SEGMENT_HEADER_SIZE,
  SHA256_SIZE,
  SPI_MODES,
  SPI_SPEEDS,
  type SpiMode,
  WP_PIN_DISABLED,
  xorBytes,
} from './format.js';

export interface SegmentInput {
  loadAddress: number;
  data: Uint8Array;
}

export interface BuildAppImageOptions {
  chip: ChipName;
  /** entry point; default: the start of the chip's IRAM (where the default code segment goes) */
  entry?: number;
  /**
   * Segments after the DROM segment the builder writes first (which holds esp_app_desc_t,
   * then `rodata`, then filler). Default: one small IRAM code segment at the entry point.
   * Written in order without esptool's MMU padding segments, so give RAM segments here
   * (an IROM segment would not sit on its 64 KiB page; the image still parses and flashes).
   */
  segments?: SegmentInput[];
  /** bytes placed right after esp_app_desc_t in the DROM segment */
  rodata?: Uint8Array;
  appDesc?: Partial<AppDescription>;
  flashMode?: SpiMode;
  flashFreq?: keyof typeof SPI_SPEEDS & string;
  /** header flash size, e.g. '4MB' (default '4MB') */
  flashSize?: string;
  minChipRevisionFull?: number;
  maxChipRevisionFull?: number;
  /** append the SHA-256 (ESP-IDF does by default); default true */
  hashAppended?: boolean;
  /** total image length in bytes (a multiple of 16): filler grows the DROM segment to reach it */
  size?: number;
  /** filler content: 'random' does not compress, 'pattern' compresses well; default 'random' */
  fill?: 'random' | 'pattern';
  /** seed of the filler generator; default 1 */
  seed?: number;
}

const align4 = (n: number) => (n + 3) & ~3;

function filler(length: number, kind: 'random' | 'pattern', seed: number): Uint8Array {
  const out = new Uint8Array(length);
  if (kind === 'pattern') {
    const encoder = new TextEncoder();
    for (let offset = 0, line = 0; offset < length; line++) {
      const text = encoder.encode(`picket firmware filler line ${line.toString().padStart(8, '0')}\n`);
      out.set(text.subarray(0, length - offset), offset);
      offset += text.length;
    }
    return out;
  }
  // xorshift32: fast, deterministic, incompressible enough for transfer tests
  let state = seed >>> 0 || 1;
  const view = new DataView(out.buffer);
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    view.setUint32(i, state >>> 0, true);
  }
  for (; i < length; i++) out[i] = (state >>> (8 * (i & 3))) & 0xff;
  return out;
}

function lookup<T>(table: Readonly<Record<string, T>>, key: string, what: string): T {
  const value = table[key];
  if (value === undefined)
    throw new ImageFormatError(
      'bad-option',
      `unknown ${what} "${key}" (one of ${Object.keys(table).join(', ')})`,
    );
  return value;
}

export function buildAppImage(options: BuildAppImageOptions): Uint8Array {
  const chip = CHIPS[options.chip];
  if (!chip) throw new ImageFormatError('bad-option', `unknown chip "${options.chip}"`);
  const drom = chip.memory.find((m) => m.type === 'DROM')!;
  const iram = chip.memory.find((m) => m.type === 'IRAM')!;
  const entry = options.entry ?? iram.start;
  const hashAppended = options.hashAppended ?? true;
  const mode = SPI_MODES.indexOf(options.flashMode ?? 'DIO');
  if (mode < 0) throw new ImageFormatError('bad-option', `unknown flash mode "${options.flashMode}"`);
  const speed = lookup(SPI_SPEEDS, options.flashFreq ?? '40m', 'flash frequency');
  const flashSize = lookup(FLASH_SIZES, options.flashSize ?? '4MB', 'flash size');

  const desc = encodeAppDescription(options.appDesc);
  const rodata = options.rodata ?? new Uint8Array(0);
  const tail: SegmentInput[] = options.segments ?? [
    // a tiny "infinite loop" stand-in for code, so the entry point lies inside a segment
    { loadAddress: entry, data: new Uint8Array([0x06, 0xff, 0xff, 0x00]) },
  ];
  if (tail.length + 1 > MAX_SEGMENTS)
    throw new ImageFormatError('bad-option', `at most ${MAX_SEGMENTS - 1} extra segments fit in an image`);

  // segment data is padded to 4 bytes, as esptool's elf2image does
  const tailBytes = tail.reduce((sum, s) => sum + SEGMENT_HEADER_SIZE + align4(s.data.length), 0);
  const dromBase = align4(desc.length + rodata.length);
  let fillLength = 0;
  if (options.size !== undefined) {
    const target = options.size - (hashAppended ? SHA256_SIZE : 0);
    if (options.size % 16 !== 0)
      throw new ImageFormatError('bad-option', `image size ${options.size} is not a multiple of 16`);
    // the segments must end 4 bytes before the checksum block ends: checksum padding then
    // fills exactly 3 bytes and the checksum lands on the last byte of `target`
    const bodyEnd = IMAGE_HEADER_SIZE + SEGMENT_HEADER_SIZE + dromBase + tailBytes;
    fillLength = target - 4 - bodyEnd;
    if (fillLength < 0)
      throw new ImageFormatError(
        'bad-option',
        `image size ${options.size} is smaller than its segments (${bodyEnd + 4 + (hashAppended ? SHA256_SIZE : 0)} bytes)`,
      );
  }
  const dromData = new Uint8Array(dromBase + fillLength);
  dromData.set(desc);
  dromData.set(rodata, desc.length);
  dromData.set(filler(fillLength, options.fill ?? 'random', options.seed ?? 1), dromBase);

  // file offset 0x20 maps to DROM + 0x20, keeping (vaddr - offset) on a 64 KiB MMU page
  const segments: SegmentInput[] = [
    { loadAddress: drom.start + IMAGE_HEADER_SIZE + SEGMENT_HEADER_SIZE, data: dromData },
    ...tail,
  ];
  const body =
    IMAGE_HEADER_SIZE + segments.reduce((s, seg) => s + SEGMENT_HEADER_SIZE + align4(seg.data.length), 0);
  const checksumOffset = body + (15 - (body % 16));
  const out = new Uint8Array(checksumOffset + 1 + (hashAppended ? SHA256_SIZE : 0));
  const view = new DataView(out.buffer);

  out[0] = IMAGE_MAGIC;
  out[1] = segments.length;
  out[2] = mode;
  out[3] = (flashSize << 4) | speed;
  view.setUint32(4, entry, true);
  out[8] = WP_PIN_DISABLED;
  // bytes 9..11: spi_pin_drv, 0 = default drive strength
  view.setUint16(12, chip.imageChipId, true);
  out[14] = Math.floor((options.minChipRevisionFull ?? 0) / 100);
  view.setUint16(15, options.minChipRevisionFull ?? 0, true);
  view.setUint16(17, options.maxChipRevisionFull ?? 0xffff, true);
  // bytes 19..22 reserved (zero)
  out[23] = hashAppended ? 1 : 0;

  let offset = IMAGE_HEADER_SIZE;
  let checksum = CHECKSUM_SEED;
  for (const segment of segments) {
    const length = align4(segment.data.length);
    view.setUint32(offset, segment.loadAddress, true);
    view.setUint32(offset + 4, length, true);
    out.set(segment.data, offset + SEGMENT_HEADER_SIZE);
    checksum = xorBytes(checksum, segment.data);
    offset += SEGMENT_HEADER_SIZE + length;
  }
  out[checksumOffset] = checksum;
  if (hashAppended) out.set(sha256(out.subarray(0, checksumOffset + 1)), checksumOffset + 1);
  if (options.size !== undefined && out.length !== options.size)
    throw new Error(`internal: built ${out.length} bytes, wanted ${options.size}`);
  return out;
}

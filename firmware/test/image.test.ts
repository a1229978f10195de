// ESP app images: the builder writes what ESP-IDF's bootloader and esptool accept, the
// parser reads every field back, and damaged files get their specific error.
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  assertImageForChip,
  buildAppImage,
  CHIP_NAMES,
  CHIPS,
  describeImage,
  ImageFormatError,
  parseImage,
  sha256,
  toHex,
} from '../src/index.js';
import { formatErrorExpecter } from './format-errors.js';

/** The image the test cross-checked with esptool v4.8.1 (`esptool.py --chip esp32 image_info --version 2`). */
const sample = () =>
  buildAppImage({
    chip: 'esp32',
    entry: 0x40080400,
    appDesc: { projectName: 'picket-test', version: '1.4.0', idfVersion: 'v5.3.1' },
    minChipRevisionFull: 101,
    maxChipRevisionFull: 399,
    segments: [{ loadAddress: 0x3fc88000, data: new Uint8Array(10).fill(7) }],
  });

const hex = (b: Uint8Array) => toHex(b);

// An image made by esptool v4.8.1 `elf2image --chip esp32 --version 2 --elf-sha256-offset 0xb0`
// from a small hand-made ELF (.flash.appdesc, .flash.rodata, .dram0.data, .iram0.text,
// .flash.text). esptool inserted a PADDING segment of zeros so the IROM segment's file
// offset maps onto its 64 KiB MMU page; it is left out here and put back by `esptoolImage()`.
const ESPTOOL_HEAD = [
  // header: QIO, 1MB/40m (esptool's defaults), entry 0x40080000, max revision 0xffff, hash appended
  'e905000000000840ee0000000000000000ffff00000000012000403f280100003254cdab030000000000000000000000',
  '322e372e31000000000000000000000000000000000000000000000000000000657370746f6f6c2d6d61646500000000',
  '0000000000000000000000000000000031323a33343a353600000000000000004e6f7620323220323032360000000000',
  '76352e332e310000000000000000000000000000000000000000000000000000f8892dc6bd3b8f9cb7f324754b3a7934',
  '67007a17ddaa08e545f79508f3c0cbb30000ffff00000000000000000000000000000000000000000000000000000000',
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000',
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526270000fb3f0c000000',
  '111111111111111111110000000008401000000006ffff0006ffff0006ffff0006ffff00000000009cfe0000',
];
const ESPTOOL_TAIL = [
  '20000d4048000000000306090c0f1215181b1e2124272a2d303336393c3f4245484b4e5154575a5d606366696c6f7275',
  '787b7e8184878a8d909396999c9fa2a5a8abaeb1b4b7babdc0c3c6c9cccf0000000000000000008c727e8a4a2249b837',
  '5117209a09c15eaa8cac240c50c1e01495922de91b7b0e38',
];
function esptoolImage(): Uint8Array {
  const head = Buffer.from(ESPTOOL_HEAD.join(''), 'hex');
  const tail = Buffer.from(ESPTOOL_TAIL.join(''), 'hex');
  const out = new Uint8Array(head.length + 0xfe9c + tail.length); // zeros in between: the padding segment
  out.set(head);
  out.set(tail, head.length + 0xfe9c);
  return out;
}

const expectImageError = formatErrorExpecter(ImageFormatError);

describe('buildAppImage', () => {
  it('writes the header, extended header, segments, checksum and SHA-256 where ESP-IDF expects them', () => {
    const image = sample();
    expect(image.length).toBe(352);
    expect(hex(image.subarray(0, 24))).toBe(
      [
        'e9', // magic
        '02', // two segments
        '02', // SPI mode DIO
        '20', // flash size 4MB (2) << 4 | speed 40m (0)
        '00040840', // entry 0x40080400, little-endian
        'ee', // WP pin disabled
        '000000', // SPI pin drive settings
        '0000', // chip id 0 = ESP32
        '01', // legacy min_chip_rev (major)
        '6500', // min_chip_rev_full 101 = v1.1
        '8f01', // max_chip_rev_full 399 = v3.99
        '00000000', // reserved
        '01', // hash appended
      ].join(''),
    );
    // segment 0: DROM at 0x3f400020 (file offset 0x20 keeps vaddr − offset on a 64 KiB page), 256 bytes
    expect(hex(image.subarray(24, 32))).toBe(['2000403f', '00010000'].join(''));
    // esp_app_desc_t starts with its magic word 0xABCD5432
    expect(hex(image.subarray(32, 36))).toBe('3254cdab');
    expect(new TextDecoder().decode(image.subarray(32 + 16, 32 + 21))).toBe('1.4.0');
    // segment 1: 10 bytes padded to 12 (esptool pads segments to 4)
    expect(hex(image.subarray(288, 308))).toBe(['0080c83f', '0c000000', '07'.repeat(10), '0000'].join(''));
    // padding to the checksum at offset 0x13f (the last byte of a 16-byte block)
    expect(hex(image.subarray(308, 319))).toBe('00'.repeat(11));
    // esptool v4.8.1 printed "Checksum: 0xf2 (valid)" and this validation hash "(valid)"
    expect(image[319]).toBe(0xf2);
    expect(hex(image.subarray(320))).toBe('194896afb7f739da76ad570aa8fd5c082a199a4a538ccd0faa68a29c8084fd62');
    expect(hex(sha256(image.subarray(0, 320)))).toBe(hex(image.subarray(320)));
  });

  it('makes exact 1 MB and 4 MB images for every chip, with their chip id and app description', () => {
    for (const chip of CHIP_NAMES)
      for (const size of [1 << 20, 4 << 20]) {
        const image = buildAppImage({ chip, size, appDesc: { version: `${chip}-${size}` } });
        expect(image.length).toBe(size);
        const info = describeImage(image);
        expect(info).toMatchObject({
          chip,
          chip_id: CHIPS[chip].imageChipId,
          valid: true,
          size,
          app_description: { project: 'picket', version: `${chip}-${size}` },
        });
        expect(info.segments[0]!.memory).toBe('DROM');
      }
  });

  it('fills deterministically: "random" does not compress, "pattern" does, and the seed changes the bytes', () => {
    const random = buildAppImage({ chip: 'esp32c3', size: 256 * 1024 });
    const again = buildAppImage({ chip: 'esp32c3', size: 256 * 1024 });
    const seeded = buildAppImage({ chip: 'esp32c3', size: 256 * 1024, seed: 7 });
    const pattern = buildAppImage({ chip: 'esp32c3', size: 256 * 1024, fill: 'pattern' });
    expect(hex(sha256(random))).toBe(hex(sha256(again)));
    expect(hex(sha256(random))).not.toBe(hex(sha256(seeded)));
    expect(deflateSync(random).length / random.length).toBeGreaterThan(0.99);
    expect(deflateSync(pattern).length / pattern.length).toBeLessThan(0.1);
  });

  it('can leave the SHA-256 off, as an image built without CONFIG_APP_..._HASH is', () => {
    const image = buildAppImage({ chip: 'esp32s3', hashAppended: false, size: 4096 });
    expect(image.length).toBe(4096);
    expect(image[23]).toBe(0);
    expect(describeImage(image)).toMatchObject({ sha256: null, valid: true, size: 4096 });
  });

  it('refuses options it cannot honour', () => {
    expectImageError(() => buildAppImage({ chip: 'esp32', size: 1000 }), 'bad-option', /multiple of 16/);
    expectImageError(
      () => buildAppImage({ chip: 'esp32', size: 256 }),
      'bad-option',
      /smaller than its segments/,
    );
    expectImageError(
      () => buildAppImage({ chip: 'esp32', flashSize: '3MB' }),
      'bad-option',
      /unknown flash size "3MB"/,
    );
    expectImageError(
      () => buildAppImage({ chip: 'esp32', appDesc: { projectName: 'x'.repeat(32) } }),
      'bad-option',
      /projectName is longer than 31 bytes/,
    );
    expectImageError(() => buildAppImage({ chip: 'nope' as 'esp32' }), 'bad-option', /unknown chip "nope"/);
  });
});

describe('parseImage / describeImage', () => {
  it('describes an image the way `sentinel image info` prints it', () => {
    expect(describeImage(sample())).toEqual({
      chip: 'esp32',
      chip_id: 0,
      entry_point: '0x40080400',
      flash: { mode: 'DIO', speed: '40m', size: '4MB' },
      wp_pin: 'disabled',
      spi_pin_drive: [0, 0, 0, 0, 0, 0],
      min_chip_revision: 'v1.1',
      max_chip_revision: 'v3.99',
      // the same table esptool prints ("File offs" is where the segment header starts)
      segments: [
        { index: 0, load_address: '0x3f400020', length: 256, file_offset: 0x18, memory: 'DROM' },
        { index: 1, load_address: '0x3fc88000', length: 12, file_offset: 0x120, memory: null },
      ],
      checksum: { stored: '0xf2', computed: '0xf2', valid: true },
      sha256: {
        stored: '194896afb7f739da76ad570aa8fd5c082a199a4a538ccd0faa68a29c8084fd62',
        computed: '194896afb7f739da76ad570aa8fd5c082a199a4a538ccd0faa68a29c8084fd62',
        valid: true,
      },
      app_description: {
        project: 'picket-test',
        version: '1.4.0',
        idf_version: 'v5.3.1',
        secure_version: 0,
        compile_time: 'Jan  1 2026 00:00:00',
        elf_sha256: '0'.repeat(64),
      },
      size: 352,
      valid: true,
    });
  });

  it('reads an image made by esptool’s elf2image as esptool image_info does', () => {
    // esptool printed: segments DROM 0x128 @0x18, DRAM 0xc @0x148, IRAM 0x10 @0x15c,
    // PADDING 0xfe9c @0x174, IROM 0x48 @0x10018; checksum 0x8c (valid); hash 727e8a4a… (valid)
    const info = describeImage(esptoolImage());
    expect(info.segments.map((s) => [s.load_address, s.length, s.file_offset, s.memory])).toEqual([
      ['0x3f400020', 0x128, 0x18, 'DROM'],
      ['0x3ffb0000', 0xc, 0x148, 'DRAM'],
      ['0x40080000', 0x10, 0x15c, 'IRAM'],
      ['0x00000000', 0xfe9c, 0x174, null],
      ['0x400d0020', 0x48, 0x10018, 'IROM'],
    ]);
    expect(info).toMatchObject({
      chip: 'esp32',
      entry_point: '0x40080000',
      flash: { mode: 'QIO', speed: '40m', size: '1MB' },
      min_chip_revision: 'v0.0',
      checksum: { stored: '0x8c', valid: true },
      sha256: { stored: '727e8a4a2249b8375117209a09c15eaa8cac240c50c1e01495922de91b7b0e38', valid: true },
      app_description: {
        project: 'esptool-made',
        version: '2.7.1',
        idf_version: 'v5.3.1',
        secure_version: 3,
        compile_time: 'Nov 22 2026 12:34:56',
        elf_sha256: 'f8892dc6bd3b8f9cb7f324754b3a793467007a17ddaa08e545f79508f3c0cbb3',
      },
      size: 65680,
      valid: true,
    });
  });

  it('reports a wrong checksum and a wrong SHA-256 as invalid instead of throwing', () => {
    const flipped = sample();
    flipped[100]! ^= 0x01; // inside the app description
    const info = describeImage(flipped);
    expect(info.checksum).toEqual({ stored: '0xf2', computed: '0xf3', valid: false });
    expect(info.sha256!.valid).toBe(false);
    expect(info.valid).toBe(false);

    const badDigest = sample();
    badDigest[351]! ^= 0xff;
    expect(describeImage(badDigest)).toMatchObject({
      checksum: { valid: true },
      sha256: { valid: false },
      valid: false,
    });
  });

  it('computes the checksum byte for byte, whatever the alignment of the bytes in memory', () => {
    const image = buildAppImage({
      chip: 'esp32s3',
      appDesc: { projectName: 'picket', version: '2.0.0', idfVersion: 'v5.3.1' },
      size: 64 * 1024,
    });
    const parsed = parseImage(image);
    let naive = 0xef;
    for (const segment of parsed.segments) for (const byte of segment.data) naive ^= byte;
    expect(parsed.checksum).toMatchObject({ computed: naive, valid: true });
    // the same image at each offset into a bigger buffer (a download's chunks are anywhere)
    for (const shift of [1, 2, 3]) {
      const backing = new Uint8Array(image.length + shift);
      backing.set(image, shift);
      const moved = backing.subarray(shift);
      expect(parseImage(moved).checksum).toMatchObject({ computed: naive, valid: true });
      // one bit flipped in the middle of the aligned words, and one at the end of a segment
      const last = parsed.segments.at(-1)!;
      for (const at of [image.length >> 1, last.fileOffset + last.data.length - 1]) {
        moved[at]! ^= 0x10;
        expect(parseImage(moved).checksum.computed).toBe(naive ^ 0x10);
        moved[at]! ^= 0x10;
      }
    }
  });

  it('reads an image followed by erased flash (a read-flash backup) and reports its own length', () => {
    const dump = new Uint8Array(8192).fill(0xff);
    dump.set(sample());
    expect(parseImage(dump)).toMatchObject({
      length: 352,
      checksum: { valid: true },
      sha256: { valid: true },
    });
  });

  it('reads an unknown chip id without guessing memory types', () => {
    const image = sample();
    image[12] = 0x42;
    const parsed = parseImage(image);
    expect(parsed.chip).toBeUndefined();
    expect(parsed.segments.map((s) => s.memory)).toEqual([undefined, undefined]);
    // the app description is then looked for in the first segment
    expect(parsed.appDescription?.projectName).toBe('picket-test');
  });

  it('checks an image is for the chip it is about to be flashed to', () => {
    const image = buildAppImage({ chip: 'esp32c3' });
    expect(assertImageForChip(image, 'esp32c3').chip?.name).toBe('esp32c3');
    expectImageError(
      () => assertImageForChip(image, 'esp32s3'),
      'wrong-chip',
      /built for esp32c3, not esp32s3/,
    );
    image[12] = 0x42;
    expectImageError(
      () => assertImageForChip(image, 'esp32c3'),
      'wrong-chip',
      /built for chip id 66, not esp32c3/,
    );
  });

  it('names each structural problem', () => {
    const image = sample();
    expectImageError(
      () => parseImage(image.subarray(0, 10)),
      'truncated',
      /header needs 24 bytes, the file has 10/,
    );
    expectImageError(() => parseImage(new Uint8Array(64)), 'bad-magic', /first byte is 0x00, expected 0xe9/);
    const many = image.slice();
    many[1] = 17;
    expectImageError(() => parseImage(many), 'too-many-segments', /17 segments, at most 16/);
    const overflow = image.slice();
    new DataView(overflow.buffer).setUint32(28, 0x10000, true);
    expectImageError(() => parseImage(overflow), 'segment-overflow', /segment 0 .* declares 65536 bytes/);
    expectImageError(() => parseImage(image.subarray(0, 290)), 'truncated', /segment 1's header/);
    expectImageError(() => parseImage(image.subarray(0, 315)), 'truncated', /checksum byte/);
    expectImageError(() => parseImage(image.subarray(0, 340)), 'truncated', /appended SHA-256/);
  });
});

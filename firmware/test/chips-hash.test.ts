// The chip table others read, and the dependency-free digests the formats use.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CHIP_NAMES,
  CHIPS,
  chipByFamily,
  chipByImageId,
  crc32,
  md5,
  memoryTypeAt,
  sha256,
  toHex,
} from '../src/index.js';

describe('chip table', () => {
  it('holds the image chip ids and flash layout ESP-IDF uses for each target', () => {
    expect(
      Object.fromEntries(
        CHIP_NAMES.map((name) => [
          name,
          [CHIPS[name].imageChipId, CHIPS[name].bootloaderOffset, CHIPS[name].partitionTableOffset],
        ]),
      ),
    ).toEqual({
      esp32: [0, 0x1000, 0x8000],
      esp32s3: [9, 0x0, 0x8000],
      esp32c3: [5, 0x0, 0x8000],
      esp32p4: [18, 0x2000, 0x8000],
    });
    for (const name of CHIP_NAMES) {
      const chip = CHIPS[name];
      expect(chip.name).toBe(name);
      expect(chipByImageId(chip.imageChipId)).toBe(chip);
      expect(chipByFamily(chip.family)).toBe(chip);
      expect(chip.appAlignment).toBe(0x10000);
      expect(chip.dataAlignment).toBe(0x1000);
      // every chip maps flash data somewhere: the app description lives there
      expect(chip.memory.some((m) => m.type === 'DROM')).toBe(true);
    }
    expect(memoryTypeAt(CHIPS.esp32, 0x3f400020)).toBe('DROM');
    expect(memoryTypeAt(CHIPS.esp32, 0x40080000)).toBe('IRAM');
    expect(memoryTypeAt(CHIPS.esp32c3, 0x42000020)).toBe('IROM');
    expect(memoryTypeAt(CHIPS.esp32, 0x10)).toBeUndefined();
  });
});

describe('digests', () => {
  it('match Node’s crypto for SHA-256 and MD5 across padding boundaries', () => {
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_000]) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff);
      expect(toHex(sha256(data)), `sha256 of ${length} bytes`).toBe(
        createHash('sha256').update(data).digest('hex'),
      );
      expect(toHex(md5(data)), `md5 of ${length} bytes`).toBe(createHash('md5').update(data).digest('hex'));
    }
  });

  it('continues a CRC-32 like zlib’s crc32(data, previous)', () => {
    const text = new TextEncoder().encode('123456789');
    expect(crc32(text)).toBe(0xcbf43926);
    expect(crc32(text.subarray(4), crc32(text.subarray(0, 4)))).toBe(0xcbf43926);
  });
});

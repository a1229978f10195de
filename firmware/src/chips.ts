// The chips we build images and flash layouts for. One table that the image builder,
// the partition validator, the flasher and the simulator all read.
//
// Chip ids: ESP-IDF `esp_chip_id_t` (components/bootloader_support/include/esp_app_format.h).
// Bootloader offsets: ESP-IDF `CONFIG_BOOTLOADER_OFFSET_IN_FLASH` per target.
// Memory ranges: the targets' soc/soc.h (used to name segments the way `esptool image_info` does).

export const CHIP_NAMES = ['esp32', 'esp32s3', 'esp32c3', 'esp32p4'] as const;
export type ChipName = (typeof CHIP_NAMES)[number];

export type MemoryType = 'DROM' | 'IROM' | 'DRAM' | 'IRAM' | 'RTC_IRAM' | 'RTC_DRAM';

export interface MemoryRange {
  type: MemoryType;
  start: number;
  /** exclusive */
  end: number;
}

export interface ChipInfo {
  name: ChipName;
  /** esp-web-tools `chipFamily` */
  family: 'ESP32' | 'ESP32-S3' | 'ESP32-C3' | 'ESP32-P4';
  /** `chip_id` in the extended image header */
  imageChipId: number;
  bootloaderOffset: number;
  partitionTableOffset: number;
  /** the first app partition ESP-IDF's default tables use */
  defaultAppOffset: number;
  /** app partitions must start on this boundary (the flash MMU page) */
  appAlignment: number;
  /** data partitions must start on this boundary (the flash sector) */
  dataAlignment: number;
  /** where the bootloader maps flash; the first DROM segment carries esp_app_desc_t */
  memory: readonly MemoryRange[];
}

const KIB = 1024;

// ESP-IDF's default layout and alignment rules, the same on every target in the table.
const IDF_LAYOUT = {
  partitionTableOffset: 0x8000,
  defaultAppOffset: 0x10000,
  appAlignment: 64 * KIB,
  dataAlignment: 4 * KIB,
} as const;

export const CHIPS: Readonly<Record<ChipName, ChipInfo>> = {
  esp32: {
    name: 'esp32',
    family: 'ESP32',
    imageChipId: 0x0000,
    bootloaderOffset: 0x1000,
    ...IDF_LAYOUT,
    memory: [
      { type: 'DROM', start: 0x3f400000, end: 0x3f800000 },
      { type: 'RTC_DRAM', start: 0x3ff80000, end: 0x3ff82000 },
      { type: 'DRAM', start: 0x3ffae000, end: 0x40000000 },
      { type: 'IRAM', start: 0x40080000, end: 0x400a0000 },
      { type: 'IROM', start: 0x400d0000, end: 0x40400000 },
      { type: 'RTC_IRAM', start: 0x400c0000, end: 0x400c2000 },
    ],
  },
  esp32s3: {
    name: 'esp32s3',
    family: 'ESP32-S3',
    imageChipId: 0x0009,
    bootloaderOffset: 0x0,
    ...IDF_LAYOUT,
    memory: [
      { type: 'DROM', start: 0x3c000000, end: 0x3e000000 },
      { type: 'DRAM', start: 0x3fc88000, end: 0x3fd00000 },
      { type: 'IRAM', start: 0x40370000, end: 0x403e0000 },
      { type: 'IROM', start: 0x42000000, end: 0x44000000 },
      { type: 'RTC_IRAM', start: 0x600fe000, end: 0x60100000 },
    ],
  },
  esp32c3: {
    name: 'esp32c3',
    family: 'ESP32-C3',
    imageChipId: 0x0005,
    bootloaderOffset: 0x0,
    ...IDF_LAYOUT,
    memory: [
      { type: 'DROM', start: 0x3c000000, end: 0x3c800000 },
      { type: 'DRAM', start: 0x3fc80000, end: 0x3fce0000 },
      { type: 'IRAM', start: 0x4037c000, end: 0x403e0000 },
      { type: 'IROM', start: 0x42000000, end: 0x42800000 },
      { type: 'RTC_IRAM', start: 0x50000000, end: 0x50002000 },
    ],
  },
  esp32p4: {
    name: 'esp32p4',
    family: 'ESP32-P4',
    imageChipId: 0x0012,
    bootloaderOffset: 0x2000,
    ...IDF_LAYOUT,
    // The P4 maps flash for code and data through one window; esptool names it DROM too.
    memory: [
      { type: 'DROM', start: 0x40000000, end: 0x4c000000 },
      { type: 'IRAM', start: 0x4ff00000, end: 0x4ffc0000 },
      { type: 'RTC_IRAM', start: 0x50108000, end: 0x50110000 },
    ],
  },
};

export function isChipName(name: string): name is ChipName {
  return (CHIP_NAMES as readonly string[]).includes(name);
}

export function chipByImageId(id: number): ChipInfo | undefined {
  return Object.values(CHIPS).find((chip) => chip.imageChipId === id);
}

export function chipByFamily(family: string): ChipInfo | undefined {
  return Object.values(CHIPS).find((chip) => chip.family === family);
}

/** The memory region an address falls in, or undefined (esptool prints nothing then). */
export function memoryTypeAt(chip: ChipInfo, address: number): MemoryType | undefined {
  return chip.memory.find((range) => address >= range.start && address < range.end)?.type;
}

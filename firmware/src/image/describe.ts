// What `sentinel image info` prints (CONTRACT.md §5): a JSON-ready summary of an image.

import { FLASH_SIZES, nameOf, SPI_MODES, SPI_SPEEDS, WP_PIN_DISABLED } from './format.js';
import { parseImage } from './parse.js';

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
/** ESP-IDF writes revisions as major*100+minor and prints them as vMAJOR.MINOR */
const revision = (full: number) => `v${Math.floor(full / 100)}.${full % 100}`;

export interface ImageDescription {
  chip: string | null;
  chip_id: number;
  entry_point: string;
  flash: { mode: string; speed: string; size: string };
  /** the SPI write-protect pin, or "disabled" (0xEE) */
  wp_pin: number | 'disabled';
  /** drive strength of the flash pins: clk, q, d, cs0, hd, wp (4 bits each) */
  spi_pin_drive: number[];
  min_chip_revision: string;
  max_chip_revision: string;
  segments: {
    index: number;
    load_address: string;
    length: number;
    file_offset: number;
    memory: string | null;
  }[];
  checksum: { stored: string; computed: string; valid: boolean };
  sha256: { stored: string; computed: string; valid: boolean } | null;
  app_description: {
    project: string;
    version: string;
    idf_version: string;
    secure_version: number;
    compile_time: string;
    elf_sha256: string;
  } | null;
  size: number;
  valid: boolean;
}

export function describeImage(bytes: Uint8Array): ImageDescription {
  const image = parseImage(bytes);
  const { header } = image;
  const byte = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
  const desc = image.appDescription;
  return {
    chip: image.chip?.name ?? null,
    chip_id: header.chipId,
    entry_point: hex(header.entry),
    flash: {
      mode: SPI_MODES[header.spiMode] ?? `unknown (${header.spiMode})`,
      speed: nameOf(SPI_SPEEDS, header.spiSpeed) ?? `unknown (${header.spiSpeed})`,
      size: nameOf(FLASH_SIZES, header.flashSize) ?? `unknown (${header.flashSize})`,
    },
    wp_pin: header.wpPin === WP_PIN_DISABLED ? 'disabled' : header.wpPin,
    spi_pin_drive: header.spiPinDrive.flatMap((byte) => [byte & 0x0f, byte >> 4]),
    min_chip_revision: revision(header.minChipRevisionFull),
    max_chip_revision: revision(header.maxChipRevisionFull),
    segments: image.segments.map((segment, index) => ({
      index,
      load_address: hex(segment.loadAddress),
      length: segment.data.length,
      file_offset: segment.headerOffset,
      memory: segment.memory ?? null,
    })),
    checksum: {
      stored: byte(image.checksum.stored),
      computed: byte(image.checksum.computed),
      valid: image.checksum.valid,
    },
    sha256: image.sha256 ?? null,
    app_description: desc
      ? {
          project: desc.projectName,
          version: desc.version,
          idf_version: desc.idfVersion,
          secure_version: desc.secureVersion,
          compile_time: `${desc.date} ${desc.time}`.trim(),
          elf_sha256: desc.appElfSha256,
        }
      : null,
    size: image.length,
    valid: image.checksum.valid && (image.sha256?.valid ?? true),
  };
}

// ESP app image layout constants and the typed error for images.
// Reference: ESP-IDF components/bootloader_support/include/esp_app_format.h and
// esp_app_desc.h; esptool's bin_image.py (checksum placement, SHA-256 appended).

import { FirmwareFormatError } from '../format-error.js';

export const IMAGE_MAGIC = 0xe9;
/** `esp_image_header_t`: 8-byte common header + 16-byte extended header */
export const IMAGE_HEADER_SIZE = 24;
/** `esp_image_segment_header_t`: load_addr, data_len */
export const SEGMENT_HEADER_SIZE = 8;
/** ESP_IMAGE_MAX_SEGMENTS */
export const MAX_SEGMENTS = 16;
/** ESP_CHECKSUM_MAGIC: the XOR of all segment bytes starts here */
export const CHECKSUM_SEED = 0xef;

/**
 * `checksum` XOR every byte of `data`: the image checksum over a segment. Four bytes at a
 * time where the data is aligned (a 1.5 MB image is checked on every download, by the
 * gateway's catalog and by each simulated device); XOR is order-free, so the word's four
 * bytes fold into one at the end.
 */
export function xorBytes(checksum: number, data: Uint8Array): number {
  let i = 0;
  let acc = checksum;
  while (i < data.length && (data.byteOffset + i) % 4 !== 0) acc ^= data[i++]!;
  const words = Math.floor((data.length - i) / 4);
  if (words > 0) {
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    let word = 0;
    for (let w = 0; w < view.length; w++) word ^= view[w]!;
    acc ^= (word ^ (word >>> 8) ^ (word >>> 16) ^ (word >>> 24)) & 0xff;
    i += words * 4;
  }
  while (i < data.length) acc ^= data[i++]!;
  return acc & 0xff;
}
export const SHA256_SIZE = 32;
/** ESP_APP_DESC_MAGIC_WORD, first word of `esp_app_desc_t` */
export const APP_DESC_MAGIC = 0xabcd5432;
export const APP_DESC_SIZE = 256;
/** `wp_pin` value meaning "no write-protect pin" */
export const WP_PIN_DISABLED = 0xee;

/** `esp_image_spi_mode_t` */
export const SPI_MODES = ['QIO', 'QOUT', 'DIO', 'DOUT', 'FAST_READ', 'SLOW_READ'] as const;
export type SpiMode = (typeof SPI_MODES)[number];

/** `esp_image_spi_freq_t` (low nibble of byte 3) */
export const SPI_SPEEDS: Readonly<Record<string, number>> = {
  '40m': 0x0,
  '26m': 0x1,
  '20m': 0x2,
  '80m': 0xf,
};
/** `esp_image_flash_size_t` (high nibble of byte 3) */
export const FLASH_SIZES: Readonly<Record<string, number>> = {
  '1MB': 0,
  '2MB': 1,
  '4MB': 2,
  '8MB': 3,
  '16MB': 4,
  '32MB': 5,
  '64MB': 6,
  '128MB': 7,
};

export const nameOf = (table: Readonly<Record<string, number>>, code: number): string | undefined =>
  Object.entries(table).find(([, value]) => value === code)?.[0];

export type ImageErrorReason =
  | 'truncated'
  | 'bad-magic'
  | 'too-many-segments'
  | 'segment-overflow'
  | 'bad-option'
  | 'wrong-chip';

export class ImageFormatError extends FirmwareFormatError<ImageErrorReason> {
  readonly format = 'image';
  override name = 'ImageFormatError';
}

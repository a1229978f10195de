// Partition types and subtypes by name (ESP-IDF esp_partition.h; the names are the
// keywords its gen_esp32part.py accepts in a CSV).

import { FirmwareFormatError } from '../format-error.js';

export interface PartitionEntry {
  name: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  encrypted: boolean;
  readonly: boolean;
}

export const PARTITION_TYPES: Readonly<Record<string, number>> = {
  app: 0x00,
  data: 0x01,
  bootloader: 0x02,
  partition_table: 0x03,
};

const OTA_APPS = Object.fromEntries(Array.from({ length: 16 }, (_, n) => [`ota_${n}`, 0x10 + n]));

export const PARTITION_SUBTYPES: Readonly<Record<number, Readonly<Record<string, number>>>> = {
  0: { factory: 0x00, ...OTA_APPS, test: 0x20 },
  1: {
    ota: 0x00,
    phy: 0x01,
    nvs: 0x02,
    coredump: 0x03,
    nvs_keys: 0x04,
    efuse: 0x05,
    undefined: 0x06,
    esphttpd: 0x80,
    fat: 0x81,
    spiffs: 0x82,
    littlefs: 0x83,
  },
  2: { primary: 0x00, ota: 0x01 },
  3: { primary: 0x00, ota: 0x01 },
};

export const APP_TYPE = 0x00;
export const DATA_TYPE = 0x01;

/** ESP_PARTITION_MAGIC, the first two bytes of every entry (little-endian 0x50AA) */
export const ENTRY_MAGIC = 0x50aa;
/** ESP_PARTITION_MAGIC_MD5: an entry that carries the MD5 of the entries before it */
export const MD5_MAGIC = 0xebeb;
export const ENTRY_SIZE = 32;
/** the table may fill this much of its 4 KiB sector (gen_esp32part MAX_PARTITION_LENGTH) */
export const MAX_TABLE_LENGTH = 0xc00;
/** the table takes a whole flash sector */
export const TABLE_SECTOR_SIZE = 0x1000;
export const DEFAULT_TABLE_OFFSET = 0x8000;
export const FLAG_ENCRYPTED = 1 << 0;
export const FLAG_READONLY = 1 << 1;

export const nameOfType = (type: number): string | undefined =>
  Object.entries(PARTITION_TYPES).find(([, v]) => v === type)?.[0];

export const nameOfSubtype = (type: number, subtype: number): string | undefined =>
  Object.entries(PARTITION_SUBTYPES[type] ?? {}).find(([, v]) => v === subtype)?.[0];

export type PartitionErrorReason =
  | 'csv-syntax'
  | 'unknown-type'
  | 'unknown-subtype'
  | 'bad-number'
  | 'bad-flag'
  | 'name-too-long'
  | 'duplicate-name'
  | 'misaligned-offset'
  | 'misaligned-size'
  | 'below-table'
  | 'bad-table-offset'
  | 'overlap'
  | 'bad-otadata'
  | 'beyond-flash'
  | 'too-many-entries'
  | 'bad-length'
  | 'bad-magic'
  | 'bad-md5'
  | 'no-end-marker';

export class PartitionTableError extends FirmwareFormatError<PartitionErrorReason> {
  readonly format = 'partitions';
  override name = 'PartitionTableError';
}

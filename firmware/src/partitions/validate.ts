// Checks a table the way ESP-IDF's gen_esp32part.py verify() does, with one specific error
// per problem: names unique, offsets aligned for their type (app 64 KiB for the flash MMU,
// data 4 KiB for the erase sector), app sizes in whole sectors, nothing inside or before
// the table's own sector, no overlaps, everything inside the flash.

import { CHIPS, type ChipName } from '../chips.js';
import { alignmentFor } from './csv.js';
import {
  APP_TYPE,
  DATA_TYPE,
  DEFAULT_TABLE_OFFSET,
  type PartitionEntry,
  PartitionTableError,
  TABLE_SECTOR_SIZE,
} from './types.js';

export interface ValidateOptions {
  tableOffset?: number;
  /** bytes of flash; when given, every partition must end inside it */
  flashSize?: number;
  /** when given, the table must sit after this chip's bootloader offset */
  chip?: ChipName;
}

const hex = (n: number) => `0x${n.toString(16)}`;

export function validatePartitionTable(
  entries: readonly PartitionEntry[],
  options: ValidateOptions = {},
): void {
  const tableOffset = options.tableOffset ?? DEFAULT_TABLE_OFFSET;
  const tableEnd = tableOffset + TABLE_SECTOR_SIZE;
  if (tableOffset % TABLE_SECTOR_SIZE !== 0)
    throw new PartitionTableError(
      'bad-table-offset',
      `partition table offset ${hex(tableOffset)} is not on a 4 KiB sector`,
    );
  if (options.chip !== undefined && tableOffset <= CHIPS[options.chip].bootloaderOffset)
    throw new PartitionTableError(
      'bad-table-offset',
      `partition table offset ${hex(tableOffset)} is not after the ${options.chip} bootloader at ${hex(CHIPS[options.chip].bootloaderOffset)}`,
    );
  const names = new Set<string>();
  for (const e of entries) {
    if (names.has(e.name))
      throw new PartitionTableError(
        'duplicate-name',
        `partition name "${e.name}" is used twice; names must be unique`,
      );
    names.add(e.name);
    const align = alignmentFor(e.type);
    if (e.offset % align !== 0)
      throw new PartitionTableError(
        'misaligned-offset',
        `partition "${e.name}" offset ${hex(e.offset)} is not aligned to ${hex(align)} (${e.type === APP_TYPE ? 'app partitions start on 64 KiB' : 'data partitions start on 4 KiB'})`,
      );
    if (e.type === APP_TYPE && e.size % 0x1000 !== 0)
      throw new PartitionTableError(
        'misaligned-size',
        `app partition "${e.name}" size ${hex(e.size)} is not a multiple of 0x1000`,
      );
    if (e.size === 0) throw new PartitionTableError('misaligned-size', `partition "${e.name}" has size 0`);
    if (e.offset < tableEnd)
      throw new PartitionTableError(
        'below-table',
        `partition "${e.name}" at ${hex(e.offset)} lies below the end of the partition table sector (${hex(tableOffset)}-${hex(tableEnd)})`,
      );
    if (options.flashSize !== undefined && e.offset + e.size > options.flashSize)
      throw new PartitionTableError(
        'beyond-flash',
        `partition "${e.name}" ends at ${hex(e.offset + e.size)}, beyond the ${options.flashSize / 0x100000}MB flash (${hex(options.flashSize)})`,
      );
  }
  // the OTA data partition holds two 4 KiB sectors (ota_select entries); the bootloader reads exactly one
  const otadata = entries.filter((e) => e.type === DATA_TYPE && e.subtype === 0x00);
  if (otadata.length > 1)
    throw new PartitionTableError(
      'bad-otadata',
      `found ${otadata.length} otadata (data/ota) partitions; only one is allowed`,
    );
  if (otadata.length === 1 && otadata[0]!.size !== 0x2000)
    throw new PartitionTableError(
      'bad-otadata',
      `otadata partition "${otadata[0]!.name}" must be 0x2000 bytes, not ${hex(otadata[0]!.size)}`,
    );
  const sorted = [...entries].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]!;
    const e = sorted[i]!;
    if (e.offset < before.offset + before.size)
      throw new PartitionTableError(
        'overlap',
        `partition "${e.name}" at ${hex(e.offset)} overlaps "${before.name}" (${hex(before.offset)}-${hex(before.offset + before.size)})`,
      );
  }
}

// Partition table CSV, as ESP-IDF's gen_esp32part.py reads and writes it:
//   # Name, Type, SubType, Offset, Size, Flags
//   nvs,      data, nvs,     0x9000,  0x6000,
//   factory,  app,  factory, ,        1M,
// Types and subtypes by keyword or number; offsets and sizes in decimal or 0x hex with an
// optional K/M suffix; a blank offset is placed after the previous partition, aligned for
// its type (app 64 KiB, data 4 KiB); flags are `encrypted` and `readonly`, joined by ':'.

import {
  APP_TYPE,
  DEFAULT_TABLE_OFFSET,
  nameOfSubtype,
  nameOfType,
  PARTITION_SUBTYPES,
  PARTITION_TYPES,
  type PartitionEntry,
  PartitionTableError,
  TABLE_SECTOR_SIZE,
} from './types.js';

export interface CsvOptions {
  /** where the table itself lives; automatic placement starts after its sector */
  tableOffset?: number;
}

/** `0x1000`, `4096`, `4K`, `1M` */
export function parseSize(text: string, what = 'value'): number {
  const match = /^(0x[0-9a-f]+|\d+)([km])?$/i.exec(text.trim());
  if (!match)
    throw new PartitionTableError(
      'bad-number',
      `${what} "${text}" is not a number (0x…, decimal, K or M suffix)`,
    );
  const base = Number.parseInt(match[1]!, match[1]!.toLowerCase().startsWith('0x') ? 16 : 10);
  const unit = match[2]?.toLowerCase();
  return base * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

export const alignmentFor = (type: number) => (type === APP_TYPE ? 0x10000 : 0x1000);

function parseType(text: string, line: number): number {
  const named = PARTITION_TYPES[text.toLowerCase()];
  if (named !== undefined) return named;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) {
    const value = parseSize(text, 'type');
    if (value <= 0xfe) return value;
  }
  throw new PartitionTableError(
    'unknown-type',
    `line ${line}: unknown partition type "${text}" (one of ${Object.keys(PARTITION_TYPES).join(', ')}, or 0x40-0xfe)`,
  );
}

function parseSubtype(text: string, type: number, line: number): number {
  const names = PARTITION_SUBTYPES[type] ?? {};
  if (text === '') {
    // gen_esp32part: an app needs a subtype; a data partition without one is "undefined"
    if (type === APP_TYPE)
      throw new PartitionTableError('unknown-subtype', `line ${line}: an app partition needs a subtype`);
    return 0x06;
  }
  const named = names[text.toLowerCase()];
  if (named !== undefined) return named;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) {
    const value = parseSize(text, 'subtype');
    if (value <= 0xfe) return value;
  }
  throw new PartitionTableError(
    'unknown-subtype',
    `line ${line}: unknown subtype "${text}" for type ${nameOfType(type) ?? type}${Object.keys(names).length ? ` (one of ${Object.keys(names).join(', ')})` : ''}`,
  );
}

function parseFlags(text: string, line: number): { encrypted: boolean; readonly: boolean } {
  const flags = { encrypted: false, readonly: false };
  for (const flag of text
    .split(':')
    .map((f) => f.trim())
    .filter(Boolean)) {
    if (flag === 'encrypted' || flag === 'readonly') flags[flag] = true;
    else
      throw new PartitionTableError('bad-flag', `line ${line}: unknown flag "${flag}" (encrypted, readonly)`);
  }
  return flags;
}

/**
 * Parses a CSV into entries with every offset resolved. Placement errors that only the
 * CSV can have (a fixed offset before the previous partition's end) are reported here with
 * the line; the rest is `validatePartitionTable`'s job.
 */
export function parsePartitionCsv(text: string, options: CsvOptions = {}): PartitionEntry[] {
  const tableOffset = options.tableOffset ?? DEFAULT_TABLE_OFFSET;
  let lastEnd = tableOffset + TABLE_SECTOR_SIZE;
  const entries: PartitionEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    const raw = lines[index]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(',').map((f) => f.trim());
    if (fields.length < 5)
      throw new PartitionTableError(
        'csv-syntax',
        `line ${line}: expected name, type, subtype, offset, size[, flags], got ${fields.length} fields`,
      );
    if (fields.length > 6 && fields.slice(6).some((f) => f !== ''))
      throw new PartitionTableError('csv-syntax', `line ${line}: more than 6 fields`);
    const [name, typeText, subtypeText, offsetText, sizeText, flagsText = ''] = fields as [
      string,
      string,
      string,
      string,
      string,
      string?,
    ];
    if (name === '') throw new PartitionTableError('csv-syntax', `line ${line}: the partition name is empty`);
    if (new TextEncoder().encode(name).length > 16)
      throw new PartitionTableError(
        'name-too-long',
        `line ${line}: partition name "${name}" is longer than 16 bytes`,
      );
    const type = parseType(typeText, line);
    const subtype = parseSubtype(subtypeText, type, line);
    if (sizeText === '')
      throw new PartitionTableError('csv-syntax', `line ${line}: the size of "${name}" is empty`);
    let offset: number;
    if (offsetText === '') {
      const align = alignmentFor(type);
      offset = Math.ceil(lastEnd / align) * align;
    } else {
      offset = parseSize(offsetText, `line ${line}: offset`);
      if (offset < lastEnd)
        throw new PartitionTableError(
          entries.length === 0 ? 'below-table' : 'overlap',
          entries.length === 0
            ? `line ${line}: "${name}" starts at 0x${offset.toString(16)}, inside the partition table's sector (0x${tableOffset.toString(16)}-0x${lastEnd.toString(16)}); use 0x${lastEnd.toString(16)} or higher`
            : `line ${line}: "${name}" starts at 0x${offset.toString(16)}, before the previous partition ends at 0x${lastEnd.toString(16)}`,
        );
    }
    const size = parseSize(sizeText, `line ${line}: size`);
    entries.push({ name, type, subtype, offset, size, ...parseFlags(flagsText, line) });
    lastEnd = offset + size;
  }
  return entries;
}

const formatOffset = (n: number) => `0x${n.toString(16)}`;
function formatSize(n: number): string {
  if (n > 0 && n % 0x100000 === 0) return `${n / 0x100000}M`;
  if (n > 0 && n % 0x400 === 0) return `${n / 0x400}K`;
  return formatOffset(n);
}

/** The table as CSV, laid out as gen_esp32part.py prints it (keywords where known, else decimal; sizes with K/M). */
export function formatPartitionCsv(entries: readonly PartitionEntry[]): string {
  const lines = ['# ESP-IDF Partition Table', '# Name, Type, SubType, Offset, Size, Flags'];
  for (const e of entries) {
    const flags = [e.encrypted && 'encrypted', e.readonly && 'readonly'].filter(Boolean).join(':');
    lines.push(
      [
        e.name,
        nameOfType(e.type) ?? String(e.type),
        nameOfSubtype(e.type, e.subtype) ?? String(e.subtype),
        formatOffset(e.offset),
        formatSize(e.size),
        flags,
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

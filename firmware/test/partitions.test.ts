// Partition tables: CSV as ESP-IDF's gen_esp32part.py reads it, the binary the bootloader
// reads (hand-checked bytes, MD5 row, 0xFF padding), validation with one reason per mistake.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodePartitionTable,
  encodePartitionTable,
  findPartition,
  formatPartitionCsv,
  PartitionTableError,
  parsePartitionCsv,
  validatePartitionTable,
} from '../src/index.js';
import { formatErrorExpecter } from './format-errors.js';

// ESP-IDF's "Single factory app, no OTA" table (partitions_singleapp.csv), offsets left blank
const SINGLE_APP = `# Name,   Type, SubType, Offset,  Size, Flags
nvs,      data, nvs,     ,        0x6000,
phy_init, data, phy,     ,        0x1000,
factory,  app,  factory, ,        1M,
`;

const expectTableError = formatErrorExpecter(PartitionTableError);

describe('partition CSV', () => {
  it('places blank offsets like gen_esp32part: after the table sector, apps on 64 KiB', () => {
    expect(parsePartitionCsv(SINGLE_APP)).toEqual([
      { name: 'nvs', type: 1, subtype: 2, offset: 0x9000, size: 0x6000, encrypted: false, readonly: false },
      {
        name: 'phy_init',
        type: 1,
        subtype: 1,
        offset: 0xf000,
        size: 0x1000,
        encrypted: false,
        readonly: false,
      },
      {
        name: 'factory',
        type: 0,
        subtype: 0,
        offset: 0x10000,
        size: 0x100000,
        encrypted: false,
        readonly: false,
      },
    ]);
  });

  it('reads numbers, K/M sizes, keywords in any case, OTA slots, custom types and flags', () => {
    const entries = parsePartitionCsv(`
otadata, data, ota, 0xd000, 8K
ota_0, APP, OTA_0, , 0x1E0000
ota_1, app, ota_1, , 1920K
storage, 0x40, 0x01, , 64K, encrypted:readonly
fs, data, littlefs, 0x3f0000, 64K, readonly
`);
    expect(
      entries.map((e) => [e.name, e.type, e.subtype, e.offset, e.size, e.encrypted, e.readonly]),
    ).toEqual([
      ['otadata', 1, 0x00, 0xd000, 0x2000, false, false],
      ['ota_0', 0, 0x10, 0x10000, 0x1e0000, false, false],
      ['ota_1', 0, 0x11, 0x1f0000, 0x1e0000, false, false],
      ['storage', 0x40, 0x01, 0x3d0000, 0x10000, true, true],
      ['fs', 1, 0x83, 0x3f0000, 0x10000, false, true],
    ]);
  });

  it('prints CSV the way gen_esp32part prints a binary table, and reads it back', () => {
    const entries = parsePartitionCsv(`${SINGLE_APP}weird, 0x40, 0x07, , 0x1800, encrypted\n`);
    const csv = formatPartitionCsv(entries);
    expect(csv).toBe(
      [
        '# ESP-IDF Partition Table',
        '# Name, Type, SubType, Offset, Size, Flags',
        'nvs,data,nvs,0x9000,24K,',
        'phy_init,data,phy,0xf000,4K,',
        'factory,app,factory,0x10000,1M,',
        'weird,64,7,0x110000,6K,encrypted',
        '',
      ].join('\n'),
    );
    expect(parsePartitionCsv(csv)).toEqual(entries);
  });

  it('names the line of each CSV mistake', () => {
    expectTableError(
      () => parsePartitionCsv('nvs, data, nvs, 0x9000\n'),
      'csv-syntax',
      /line 1: expected name, type/,
    );
    expectTableError(
      () => parsePartitionCsv('nvs, flash, nvs, , 4K\n'),
      'unknown-type',
      /line 1: unknown partition type "flash"/,
    );
    expectTableError(
      () => parsePartitionCsv('\nnvs, data, nfs, , 4K\n'),
      'unknown-subtype',
      /line 2: unknown subtype "nfs" for type data/,
    );
    expectTableError(
      () => parsePartitionCsv('a, app, , , 64K\n'),
      'unknown-subtype',
      /app partition needs a subtype/,
    );
    expectTableError(
      () => parsePartitionCsv('nvs, data, nvs, , 4X\n'),
      'bad-number',
      /size "4X" is not a number/,
    );
    expectTableError(
      () => parsePartitionCsv('nvs, data, nvs, , 4K, secret\n'),
      'bad-flag',
      /unknown flag "secret"/,
    );
    expectTableError(() => parsePartitionCsv('nvs, data, nvs, , \n'), 'csv-syntax', /size of "nvs" is empty/);
    expectTableError(
      () => parsePartitionCsv('a_name_of_17_char, data, nvs, , 4K\n'),
      'name-too-long',
      /longer than 16 bytes/,
    );
    expectTableError(
      () => parsePartitionCsv('nvs, data, nvs, 0x8000, 4K\n'),
      'below-table',
      /inside the partition table's sector/,
    );
    expectTableError(
      () => parsePartitionCsv('nvs, data, nvs, 0x9000, 0x6000\nphy, data, phy, 0xa000, 4K\n'),
      'overlap',
      /line 2: "phy" starts at 0xa000, before the previous partition ends at 0xf000/,
    );
  });
});

// An OTA layout with auto-placed offsets and a flag, and the table ESP-IDF's gen_esp32part.py
// (v1.2, `gen_esp32part.py --flash-size 4MB ota.csv ota.bin`) made from it: entries and
// the MD5 row; the rest of the 0xC00 bytes is 0xFF.
const OTA_CSV = `# Name,   Type, SubType, Offset,   Size, Flags
nvs,      data, nvs,     0x9000,   0x5000,
otadata,  data, ota,     0xe000,   0x2000,
app0,     app,  ota_0,   0x10000,  0x140000,
app1,     app,  ota_1,   ,         0x140000,
spiffs,   data, spiffs,  ,         0x160000, encrypted
coredump, data, coredump,,         64K,
`;
const OTA_REFERENCE = [
  'aa50010200900000005000006e76730000000000000000000000000000000000',
  'aa50010000e00000002000006f74616461746100000000000000000000000000',
  'aa50001000000100000014006170703000000000000000000000000000000000',
  'aa50001100001500000014006170703100000000000000000000000000000000',
  'aa50018200002900000016007370696666730000000000000000000001000000',
  'aa50010300003f0000000100636f726564756d70000000000000000000000000',
  'ebebffffffffffffffffffffffffffffa22830991b95bd0e117c7fc0177ac55f',
];

describe('partition binary', () => {
  it('writes the same bytes as ESP-IDF’s gen_esp32part.py for the same CSV', () => {
    const entries = parsePartitionCsv(OTA_CSV);
    validatePartitionTable(entries, { flashSize: 4 << 20 });
    const expected = new Uint8Array(0xc00).fill(0xff);
    expected.set(Buffer.from(OTA_REFERENCE.join(''), 'hex'));
    expect(Buffer.from(encodePartitionTable(entries)).equals(Buffer.from(expected))).toBe(true);
    expect(decodePartitionTable(expected).entries).toEqual(entries);
  });

  const entries = parsePartitionCsv(
    'nvs, data, nvs, 0x9000, 0x6000\nfactory, app, factory, 0x10000, 1M, readonly\n',
  );
  const table = encodePartitionTable(entries);
  const hex = (from: number, to: number) => Buffer.from(table.subarray(from, to)).toString('hex');

  it('writes 32-byte entries, the MD5 row and 0xFF padding to 0xC00', () => {
    expect(table.length).toBe(0xc00);
    expect(hex(0, 32)).toBe(
      [
        'aa50', // magic 0x50AA, little-endian
        '01', // type data
        '02', // subtype nvs
        '00900000', // offset 0x9000
        '00600000', // size 0x6000
        '6e7673'.padEnd(32, '0'), // label "nvs", NUL-padded to 16 bytes
        '00000000', // flags
      ].join(''),
    );
    // factory: app/factory at 0x10000, 1 MB, flags readonly (bit 1)
    expect(hex(32, 64)).toBe(
      ['aa50', '00', '00', '00000100', '00001000', '666163746f7279'.padEnd(32, '0'), '02000000'].join(''),
    );
    const md5 = createHash('md5').update(table.subarray(0, 64)).digest('hex');
    expect(hex(64, 96)).toBe(`ebeb${'ff'.repeat(14)}${md5}`);
    expect(table.subarray(96).every((b) => b === 0xff)).toBe(true);
    expect(
      encodePartitionTable(entries, { md5: false })
        .subarray(64)
        .every((b) => b === 0xff),
    ).toBe(true);
  });

  it('reads back what it wrote, from the 0xC00 block or a whole flash sector', () => {
    expect(decodePartitionTable(table)).toEqual({ entries, md5: true });
    const sector = new Uint8Array(0x1000).fill(0xff);
    sector.set(table);
    expect(decodePartitionTable(sector).entries).toEqual(entries);
    expect(decodePartitionTable(encodePartitionTable(entries, { md5: false }))).toEqual({
      entries,
      md5: false,
    });
  });

  it('names each damaged binary', () => {
    const badMd5 = table.slice();
    badMd5[4] ^= 1;
    expectTableError(() => decodePartitionTable(badMd5), 'bad-md5', /MD5 does not match/);
    const badMagic = table.slice();
    badMagic[33] = 0x51;
    expectTableError(
      () => decodePartitionTable(badMagic),
      'bad-magic',
      /entry 1 at byte 0x20 has magic 0x51aa/,
    );
    expectTableError(() => decodePartitionTable(table.subarray(0, 80)), 'bad-length', /not a multiple of 32/);
    expectTableError(() => decodePartitionTable(table.subarray(0, 96)), 'no-end-marker', /no end marker/);
    const full = Array.from({ length: 95 }, (_, n) => ({
      ...entries[0]!,
      name: `p${n}`,
      offset: 0x9000 + n * 0x1000,
      size: 0x1000,
    }));
    expectTableError(() => encodePartitionTable(full), 'too-many-entries', /95 partitions do not fit/);
    expect(decodePartitionTable(encodePartitionTable(full.slice(0, 94))).entries).toHaveLength(94);
  });
});

describe('validatePartitionTable', () => {
  const base = parsePartitionCsv(SINGLE_APP);

  it('accepts ESP-IDF’s default table in 2 MB and refuses it in 1 MB', () => {
    expect(() => validatePartitionTable(base, { flashSize: 2 << 20 })).not.toThrow();
    expectTableError(
      () => validatePartitionTable(base, { flashSize: 1 << 20 }),
      'beyond-flash',
      /"factory" ends at 0x110000, beyond the 1MB flash/,
    );
  });

  it('gives one specific reason per mistake', () => {
    const [nvs, phy, factory] = base as [(typeof base)[0], (typeof base)[0], (typeof base)[0]];
    expectTableError(
      () => validatePartitionTable([nvs, { ...phy, name: 'nvs' }]),
      'duplicate-name',
      /"nvs" is used twice/,
    );
    expectTableError(
      () => validatePartitionTable([{ ...factory, offset: 0x18000 }]),
      'misaligned-offset',
      /0x18000 is not aligned to 0x10000/,
    );
    expectTableError(
      () => validatePartitionTable([{ ...nvs, offset: 0x9800 }]),
      'misaligned-offset',
      /0x9800 is not aligned to 0x1000/,
    );
    expectTableError(
      () => validatePartitionTable([{ ...factory, size: 0x10800 }]),
      'misaligned-size',
      /not a multiple of 0x1000/,
    );
    expectTableError(
      () => validatePartitionTable([{ ...nvs, offset: 0x8000 }]),
      'below-table',
      /below the end of the partition table sector/,
    );
    expectTableError(
      () => validatePartitionTable([nvs], { tableOffset: 0xa000 }),
      'below-table',
      /0xa000-0xb000/,
    );
    const otadata = { ...nvs, name: 'otadata', subtype: 0x00, offset: 0xf000, size: 0x2000 };
    expect(() => validatePartitionTable([nvs, otadata])).not.toThrow();
    expectTableError(
      () => validatePartitionTable([nvs, { ...otadata, size: 0x1000 }]),
      'bad-otadata',
      /"otadata" must be 0x2000 bytes, not 0x1000/,
    );
    expectTableError(
      () => validatePartitionTable([nvs, otadata, { ...otadata, name: 'otadata2', offset: 0x11000 }]),
      'bad-otadata',
      /found 2 otadata/,
    );
    expectTableError(
      () => validatePartitionTable([nvs], { tableOffset: 0x8800 }),
      'bad-table-offset',
      /not on a 4 KiB sector/,
    );
    // the P4 bootloader sits at 0x2000: a table at 0x2000 would overwrite it, one at 0x1000 is below it
    expectTableError(
      () => validatePartitionTable([], { tableOffset: 0x2000, chip: 'esp32p4' }),
      'bad-table-offset',
      /not after the esp32p4 bootloader at 0x2000/,
    );
    expect(() => validatePartitionTable([], { tableOffset: 0x2000, chip: 'esp32s3' })).not.toThrow();
    expectTableError(
      () => validatePartitionTable([nvs, { ...phy, offset: 0xe000 }]),
      'overlap',
      /"phy_init" at 0xe000 overlaps "nvs" \(0x9000-0xf000\)/,
    );
  });
});

describe('findPartition', () => {
  const entries = parsePartitionCsv(`${SINGLE_APP}ota_0, app, ota_0, , 1M\nstore, data, nvs, , 16K\n`);
  it('finds by type and subtype name or number, and by name', () => {
    expect(findPartition(entries, { type: 'data', subtype: 'nvs' })?.name).toBe('nvs');
    expect(findPartition(entries, { type: 1, subtype: 2, name: 'store' })?.offset).toBe(0x210000);
    expect(findPartition(entries, { type: 'app', subtype: 'ota_0' })?.offset).toBe(0x110000);
    expect(findPartition(entries, { type: 'app' })?.name).toBe('factory');
    expect(findPartition(entries, { type: 'data', subtype: 'spiffs' })).toBeUndefined();
    expect(findPartition(entries, { type: 'data', subtype: 'no-such' })).toBeUndefined();
    expect(findPartition(entries, { type: 'nope' })).toBeUndefined();
  });
});

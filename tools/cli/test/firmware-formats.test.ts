// `sentinel image info`, `sentinel partitions`, `sentinel nvs build|dump` run as a user
// runs them: real files in a temporary folder, the real `sentinel` process.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildAppImage,
  buildNvsPartition,
  encodePartitionTable,
  parseNvsCsv,
  parsePartitionCsv,
} from '@sentinel/firmware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';

let dir: string;
const at = (name: string) => join(dir, name);

const PARTITIONS_CSV = `# Name, Type, SubType, Offset, Size, Flags
nvs,      data, nvs,     ,        0x6000,
phy_init, data, phy,     ,        0x1000,
factory,  app,  factory, ,        1M,
`;

const NVS_CSV = `key,type,encoding,value
picket,namespace,,
device_id,data,string,kitchen
boots,data,u32,3
big,data,u64,18446744073709551615
cert,file,binary,cert.der
`;

const CERT = Uint8Array.from([0x30, 0x82, 0x01, 0x0a]);

/** one line on stderr, prefixed `sentinel:` (CONTRACT.md §1) */
const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  return stderr.trim();
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-formats-'));
  await writeFile(
    at('app.bin'),
    buildAppImage({
      chip: 'esp32s3',
      appDesc: { projectName: 'picket', version: '2.0.1', idfVersion: 'v5.3.1' },
    }),
  );
  await writeFile(at('partitions.csv'), PARTITIONS_CSV);
  await writeFile(at('nvs.csv'), NVS_CSV);
  await writeFile(at('cert.der'), CERT);
  // what `nvs build` must write for nvs.csv, made by the library directly
  await writeFile(
    at('nvs-lib.bin'),
    buildNvsPartition(parseNvsCsv(NVS_CSV, { readFile: () => CERT }), 0x6000),
  );
  // a 2 MB "read-flash backup": partition table at 0x8000, NVS at 0x9000, app at 0x10000
  const flash = new Uint8Array(2 << 20).fill(0xff);
  flash.set(encodePartitionTable(parsePartitionCsv(PARTITIONS_CSV)), 0x8000);
  flash.set(
    buildNvsPartition(
      parseNvsCsv('key,type,encoding,value\npicket,namespace,,\ndevice_id,data,string,porch\n'),
      0x6000,
    ),
    0x9000,
  );
  flash.set(buildAppImage({ chip: 'esp32', size: 64 * 1024 }), 0x10000);
  await writeFile(at('flash.bin'), flash);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sentinel image info', () => {
  it('prints chip, entry point, segments, checksum/SHA-256 validity and the app description as JSON', async () => {
    const { code, stdout } = await runCli(['image', 'info', at('app.bin')]);
    expect(code).toBe(0);
    const info = JSON.parse(stdout);
    expect(info).toMatchObject({
      chip: 'esp32s3',
      entry_point: '0x40370000',
      checksum: { valid: true },
      sha256: { valid: true },
      app_description: { project: 'picket', version: '2.0.1', idf_version: 'v5.3.1' },
      valid: true,
    });
    expect(info.segments.map((s: { memory: string }) => s.memory)).toEqual(['DROM', 'IRAM']);
  });

  it('reads an image inside a flash backup at --offset, and reports a corrupted one as invalid (exit 0)', async () => {
    const flash = await readFile(at('flash.bin'));
    flash[0x10000 + 5000] ^= 0xff;
    await writeFile(at('flash-bad.bin'), flash);
    const [good, bad] = await Promise.all([
      runCli(['image', 'info', '--offset', '0x10000', at('flash.bin')]),
      runCli(['image', 'info', '--offset', '64K', at('flash-bad.bin')]),
    ]);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ chip: 'esp32', size: 65536, valid: true });
    expect(bad.code).toBe(0);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      checksum: { valid: false },
      sha256: { valid: false },
      valid: false,
    });
  });

  it('exits 1 with the specific reason for files that are no image, 2 for a bad option', async () => {
    const image = await readFile(at('app.bin'));
    await writeFile(at('short.bin'), image.subarray(0, 100));
    const [truncated, notImage, missing, badOffset] = await Promise.all([
      runCli(['image', 'info', at('short.bin')]),
      runCli(['image', 'info', at('partitions.csv')]),
      runCli(['image', 'info', at('nope.bin')]),
      runCli(['image', 'info', '--offset', 'ten', at('app.bin')]),
    ]);
    expect(truncated.code).toBe(1);
    expect(oneLine(truncated.stderr)).toMatch(
      /^sentinel: .*short\.bin: segment 0 .* past the end of the 100-byte file$/,
    );
    expect(notImage.code).toBe(1);
    expect(oneLine(notImage.stderr)).toMatch(/not an ESP app image: first byte is 0x23, expected 0xe9/);
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/cannot read .*nope\.bin: ENOENT/);
    expect(badOffset.code).toBe(2);
    expect(truncated.stdout + notImage.stdout + missing.stdout).toBe('');
  });
});

describe('sentinel partitions', () => {
  it('turns CSV into the binary table (--out) and the binary back into the same CSV', async () => {
    const toBinary = await runCli([
      'partitions',
      at('partitions.csv'),
      '--out',
      at('partitions.bin'),
      '--flash-size',
      '4MB',
    ]);
    expect(toBinary.code).toBe(0);
    expect(JSON.parse(toBinary.stdout).partitions).toEqual([
      {
        name: 'nvs',
        type: 'data',
        subtype: 'nvs',
        offset: '0x9000',
        size: 0x6000,
        encrypted: false,
        readonly: false,
      },
      {
        name: 'phy_init',
        type: 'data',
        subtype: 'phy',
        offset: '0xf000',
        size: 0x1000,
        encrypted: false,
        readonly: false,
      },
      {
        name: 'factory',
        type: 'app',
        subtype: 'factory',
        offset: '0x10000',
        size: 0x100000,
        encrypted: false,
        readonly: false,
      },
    ]);
    const binary = await readFile(at('partitions.bin'));
    expect(binary.length).toBe(0xc00);
    expect(binary.subarray(0, 2)).toEqual(Buffer.from([0xaa, 0x50]));

    const [toCsv, fromDump] = await Promise.all([
      runCli(['partitions', at('partitions.bin')]),
      runCli(['partitions', '--at', '0x8000', at('flash.bin')]),
    ]);
    expect(toCsv.code).toBe(0);
    expect(toCsv.stdout).toBe(
      '# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n' +
        'nvs,data,nvs,0x9000,24K,\nphy_init,data,phy,0xf000,4K,\nfactory,app,factory,0x10000,1M,\n',
    );
    expect(fromDump.stdout).toBe(toCsv.stdout);
  });

  it('exits 1 naming the problem: too big for the flash, overlaps, a damaged MD5', async () => {
    await writeFile(at('overlap.csv'), 'nvs, data, nvs, 0x9000, 0x6000\nphy, data, phy, 0xa000, 4K\n');
    const damaged = encodePartitionTable(parsePartitionCsv(PARTITIONS_CSV));
    damaged[8] ^= 1;
    await writeFile(at('damaged.bin'), damaged);
    const [tooBig, overlap, badMd5, badSize, onBootloader, notTable] = await Promise.all([
      runCli(['partitions', at('partitions.csv'), '--flash-size', '1MB']),
      runCli(['partitions', at('overlap.csv')]),
      runCli(['partitions', at('damaged.bin')]),
      runCli(['partitions', at('partitions.csv'), '--flash-size', 'big']),
      runCli(['partitions', at('partitions.csv'), '--chip', 'esp32p4', '--offset', '0x2000']),
      runCli(['partitions', '--at', '0x10000', at('flash.bin')]),
    ]);
    expect(tooBig.code).toBe(1);
    expect(oneLine(tooBig.stderr)).toMatch(/"factory" ends at 0x110000, beyond the 1MB flash/);
    expect(overlap.code).toBe(1);
    expect(oneLine(overlap.stderr)).toMatch(
      /line 2: "phy" starts at 0xa000, before the previous partition ends at 0xf000/,
    );
    expect(badMd5.code).toBe(1);
    expect(oneLine(badMd5.stderr)).toMatch(/MD5 does not match/);
    expect(badSize.code).toBe(2);
    expect(onBootloader.code).toBe(1);
    expect(notTable.code).toBe(1);
    expect(oneLine(notTable.stderr)).toMatch(
      /flash\.bin: partition entry 0 at byte 0x0 has magic 0x..e9, expected 0x50aa/,
    );
    expect(oneLine(onBootloader.stderr)).toMatch(
      /offset 0x2000 is not after the esp32p4 bootloader at 0x2000/,
    );
    expect(tooBig.stdout + overlap.stdout + badMd5.stdout).toBe('');
  });
});

describe('sentinel nvs', () => {
  it('builds from CSV (file rows relative to it), dumps as JSON, and rebuilds the same bytes from that JSON', async () => {
    const built = await runCli(['nvs', 'build', at('nvs.csv'), '--size', '24K', '--out', at('nvs.bin')]);
    expect(built.code).toBe(0);
    expect(JSON.parse(built.stdout)).toMatchObject({
      size: 0x6000,
      namespaces: 1,
      keys: 4,
      pages_used: 1,
      pages_total: 6,
    });
    expect((await readFile(at('nvs.bin'))).equals(await readFile(at('nvs-lib.bin')))).toBe(true);

    const dump = await runCli(['nvs', 'dump', at('nvs.bin')]);
    expect(dump.code).toBe(0);
    const json = JSON.parse(dump.stdout);
    expect(json.namespaces).toEqual({
      picket: {
        device_id: { type: 'string', value: 'kitchen' },
        boots: { type: 'u32', value: 3 },
        big: { type: 'u64', value: '18446744073709551615' },
        cert: { type: 'blob', hex: '3082010a' },
      },
    });
    expect(json.pages[0]).toMatchObject({ index: 0, state: 'active', seq: 0 });

    await writeFile(at('dump.json'), dump.stdout);
    const rebuilt = await runCli([
      'nvs',
      'build',
      at('dump.json'),
      '--size',
      '0x6000',
      '--out',
      at('nvs2.bin'),
    ]);
    expect(rebuilt.code).toBe(0);
    expect((await readFile(at('nvs2.bin'))).equals(await readFile(at('nvs.bin')))).toBe(true);
  });

  it('dumps the NVS partition of a flash backup, sized from its partition table', async () => {
    const { code, stdout } = await runCli(['nvs', 'dump', '--offset', '0x9000', at('flash.bin')]);
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json.namespaces).toEqual({ picket: { device_id: { type: 'string', value: 'porch' } } });
    expect(json.pages).toHaveLength(6);
  });

  it('exits 1 with the reason for damaged partitions and inputs that do not fit; --lenient lists problems', async () => {
    const nvs = await readFile(at('nvs-lib.bin'));
    nvs[64 + 32 + 20] ^= 1; // inside entry 1's key: its CRC no longer matches
    await writeFile(at('nvs-bad.bin'), nvs);
    await writeFile(at('bad.json'), '{"namespaces":{"p":{"k":{"type":"u8","value":300}}}}');
    await writeFile(
      at('missing-file.csv'),
      'key,type,encoding,value\nn,namespace,,\nk,file,binary,gone.bin\n',
    );
    const [damaged, lenient, tooSmall, outOfRange, badSize, missingOut, missingFile] = await Promise.all([
      runCli(['nvs', 'dump', at('nvs-bad.bin')]),
      runCli(['nvs', 'dump', '--lenient', at('nvs-bad.bin')]),
      runCli(['nvs', 'build', at('nvs.csv'), '--size', '0x2000', '--out', at('x.bin')]),
      runCli(['nvs', 'build', at('bad.json'), '--size', '0x3000', '--out', at('x.bin')]),
      runCli(['nvs', 'build', at('nvs.csv'), '--size', 'lots', '--out', at('x.bin')]),
      runCli(['nvs', 'build', at('nvs.csv'), '--size', '0x3000']),
      runCli(['nvs', 'build', at('missing-file.csv'), '--size', '0x3000', '--out', at('x.bin')]),
    ]);
    expect(damaged.code).toBe(1);
    expect(oneLine(damaged.stderr)).toMatch(
      /nvs-bad\.bin: page 0 entry 1: entry CRC 0x[0-9a-f]+ does not match/,
    );
    expect(lenient.code).toBe(0);
    const partial = JSON.parse(lenient.stdout);
    // the damaged header cannot be trusted for its span, so its data entry is reported too (nvs_flash erases both)
    expect(partial.problems).toMatchObject([
      { reason: 'bad-entry-crc', page: 0, entry: 1 },
      { reason: 'bad-entry-crc', page: 0, entry: 2 },
    ]);
    expect(Object.keys(partial.namespaces.picket)).toEqual(['boots', 'big', 'cert']);
    expect(tooSmall.code).toBe(1);
    expect(oneLine(tooSmall.stderr)).toMatch(/size 8192 must be a multiple of 4096 and at least 12288/);
    expect(outOfRange.code).toBe(1);
    expect(oneLine(outOfRange.stderr)).toMatch(/"k": 300 is out of range for u8/);
    expect(badSize.code).toBe(2);
    expect(missingOut.code).toBe(2);
    expect(missingOut.stderr).toMatch(/--out/);
    expect(missingFile.code).toBe(1);
    expect(oneLine(missingFile.stderr)).toMatch(/missing-file\.csv: cannot read gone\.bin: ENOENT/);
  });

  it('shows defaults and formats in --help', async () => {
    const [dump, partitions] = await Promise.all([
      runCli(['nvs', 'dump', '--help']),
      runCli(['partitions', '--help']),
    ]);
    expect(dump.stdout).toMatch(/--offset <bytes>/);
    expect(dump.stdout).toMatch(/--lenient/);
    expect(partitions.stdout).toMatch(/default:\s+0x8000/);
  });
});

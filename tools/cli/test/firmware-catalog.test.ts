// `sentinel firmware add|list|remove`: the OTA catalog under <data>/firmware/ota, run as
// a user runs it. Every refusal names its reason and leaves the catalog as it was.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAppImage } from '@sentinel/firmware';
import { FirmwareStore } from '@sentinel/gateway/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';

let dir: string;
const at = (name: string) => join(dir, name);
const data = () => ['--data', at('data')];

const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  return stderr.trim();
};

const image = (version: string, extra: Parameters<typeof buildAppImage>[0] | object = {}) =>
  buildAppImage({
    chip: 'esp32s3',
    appDesc: { projectName: 'picket', version, idfVersion: 'v5.3.1' },
    ...extra,
  });

async function list(channel?: string) {
  const result = await runCli(['firmware', 'list', ...data(), ...(channel ? ['--channel', channel] : [])]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout).images as { id: string; channel: string; signature: unknown }[];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-catalog-'));
  await writeFile(at('1.0.0.bin'), image('1.0.0'));
  await writeFile(at('1.1.0.bin'), image('1.1.0'));
  expect((await runCli(['firmware', 'keygen', '--out', at('key.pem')])).code).toBe(0);
  const sign = await runCli([
    'firmware',
    'sign',
    at('1.1.0.bin'),
    '--key',
    at('key.pem'),
    '--out',
    at('1.1.0-signed.bin'),
  ]);
  expect(sign.code, sign.stderr).toBe(0);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('firmware catalog', () => {
  it('adds an image with what a rollout needs to know about it', async () => {
    const result = await runCli(['firmware', 'add', at('1.0.0.bin'), ...data()]);
    expect(result.code, result.stderr).toBe(0);
    const bytes = await readFile(at('1.0.0.bin'));
    expect(JSON.parse(result.stdout)).toEqual({
      id: 'picket-1.0.0-esp32s3',
      project: 'picket',
      version: '1.0.0',
      chip: 'esp32s3',
      idf_version: 'v5.3.1',
      secure_version: 0,
      channel: 'stable',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      signature: null,
      added_at: expect.any(Number),
      added: true,
    });
    const stored = await readFile(at(`data/firmware/ota/${JSON.parse(result.stdout).sha256}.bin`));
    expect(stored).toEqual(bytes);
  });

  it('adding the same image again only moves its channel', async () => {
    const result = await runCli(['firmware', 'add', at('1.0.0.bin'), '--channel', 'beta', ...data()]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ added: false, channel: 'beta' });
    expect(await list()).toHaveLength(1);
  });

  it('adds a signed image with its signature scheme and key digest', async () => {
    const keygenDigest = JSON.parse(
      (await runCli(['firmware', 'verify', at('1.1.0-signed.bin'), '--key', at('key.pem')])).stdout,
    ).blocks[0].key_digest;
    const result = await runCli(['firmware', 'add', at('1.1.0-signed.bin'), ...data()]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      id: 'picket-1.1.0-esp32s3',
      signature: { scheme: 'rsa3072', key_digest: keygenDigest },
    });
    expect((await list()).map((e) => e.id)).toEqual(['picket-1.1.0-esp32s3', 'picket-1.0.0-esp32s3']);
    expect((await list('beta')).map((e) => e.id)).toEqual(['picket-1.0.0-esp32s3']);
  });

  it('refuses a different image under a version already in the catalog', async () => {
    const result = await runCli(['firmware', 'add', at('1.1.0.bin'), ...data()]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(
      /picket 1\.1\.0 for esp32s3 is already in the catalog as a different image .*remove picket-1\.1\.0-esp32s3 first/,
    );
  });

  it('removes an image and its file; an unknown id is an error', async () => {
    const before = await readdir(at('data/firmware/ota'));
    const result = await runCli(['firmware', 'remove', 'picket-1.0.0-esp32s3', ...data()]);
    expect(result.code, result.stderr).toBe(0);
    expect((await list()).map((e) => e.id)).toEqual(['picket-1.1.0-esp32s3']);
    expect(await readdir(at('data/firmware/ota'))).toHaveLength(before.length - 1);
    const again = await runCli(['firmware', 'remove', 'picket-1.0.0-esp32s3', ...data()]);
    expect(again.code).toBe(1);
    expect(oneLine(again.stderr)).toMatch(/no image picket-1\.0\.0-esp32s3 in the firmware catalog/);
  });

  it('the catalog folder is not a browser-flasher build', async () => {
    expect(await new FirmwareStore(at('data')).list()).toEqual({ builds: [], problems: [] });
    expect(await new FirmwareStore(at('data')).file('ota/index.json')).toBeUndefined();
  });
});

describe('firmware add refuses bad images, storing nothing', () => {
  const withDigest = (bytes: Uint8Array) => {
    const out = bytes.slice();
    out.set(
      createHash('sha256')
        .update(out.subarray(0, out.length - 32))
        .digest(),
      out.length - 32,
    );
    return out;
  };

  const cases: [string, () => Promise<Uint8Array>, RegExp, string[]?][] = [
    [
      'not an image',
      async () => new TextEncoder().encode('#!/bin/sh\necho this is not firmware at all\n'),
      /not an ESP app image/,
    ],
    [
      'an unknown chip',
      async () => {
        const bytes = image('2.0.0');
        bytes[12] = 0x77;
        return withDigest(bytes);
      },
      /unknown chip \(id 119\)/,
    ],
    [
      'a damaged segment',
      async () => {
        const bytes = image('2.0.0');
        bytes[100]! ^= 0xff;
        return bytes;
      },
      /checksum is wrong/,
    ],
    ['no appended SHA-256', async () => image('2.0.0', { hashAppended: false }), /no appended SHA-256/],
    [
      'bytes after the image',
      async () => {
        const bytes = image('2.0.0');
        const longer = new Uint8Array(bytes.length + 100);
        longer.set(bytes);
        return longer;
      },
      /100 bytes follow the \d+-byte image and are not a signature sector/,
    ],
    [
      'a tampered signed image',
      async () => {
        const bytes = await readFile(at('1.1.0-signed.bin'));
        bytes[bytes.length - 4096 - 10]! ^= 0x01;
        return bytes;
      },
      /signature invalid: .*modified after signing/,
    ],
    [
      'an image larger than the OTA slot',
      async () => image('2.0.0', { size: 0x11000 }),
      /\d+ bytes do not fit the 65536-byte OTA slot ota_0/,
      ['--partition-table', 'small.csv'],
    ],
  ];

  it.each(cases)('%s', async (name, make, reason, extra = []) => {
    await writeFile(
      at('small.csv'),
      'nvs, data, nvs, , 0x6000,\notadata, data, ota, , 0x2000,\nota_0, app, ota_0, , 64K,\nota_1, app, ota_1, , 64K,\n',
    );
    const file = at(`${name.replaceAll(' ', '-')}.bin`);
    await writeFile(file, await make());
    const before = await readFile(at('data/firmware/ota/index.json'), 'utf8');
    const args = extra.map((a) => (a.endsWith('.csv') ? at(a) : a));
    const result = await runCli(['firmware', 'add', file, ...args, ...data()]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(reason);
    expect(await readFile(at('data/firmware/ota/index.json'), 'utf8')).toBe(before);
  });
});

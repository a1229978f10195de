// `sentinel firmware keygen|sign|verify` run as a user runs them, and — when
// SENTINEL_ESPTOOL names esptool checkouts (colon-separated, 4.x and/or 5.x; the same
// convention as simulators/test/esptool.test.ts, see simulators/README.md) — checked by
// Espressif's own espsecure in both directions: it must accept our signatures, and we
// must accept its. Without the variable those tests skip, saying so.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAppImage } from '@sentinel/firmware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';

/** Debian's interpreter with Debian's python3-cryptography and python3-ecdsa */
const PYTHON = '/usr/bin/python3';
const ENV_NAME = 'SENTINEL_ESPTOOL';
const SCHEMES = ['rsa3072', 'ecdsa256'] as const;

let dir: string;
/** what keygen printed for each key */
const keyDigests = new Map<string, string>();
const at = (name: string) => join(dir, name);

/** one line on stderr, prefixed `sentinel:` (CONTRACT.md §1) */
const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  return stderr.trim();
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-sign-'));
  await writeFile(
    at('app.bin'),
    buildAppImage({
      chip: 'esp32c3',
      appDesc: { projectName: 'picket', version: '1.6.0', idfVersion: 'v5.3.1' },
      size: 70_000 - (70_000 % 16),
    }),
  );
  for (const scheme of SCHEMES) {
    for (const name of [scheme, `other-${scheme}`]) {
      const keygen = await runCli(['firmware', 'keygen', '--scheme', scheme, '--out', at(`${name}.pem`)]);
      expect(keygen.code, keygen.stderr).toBe(0);
      keyDigests.set(name, JSON.parse(keygen.stdout).key_digest);
    }
    const sign = await runCli([
      'firmware',
      'sign',
      at('app.bin'),
      '--key',
      at(`${scheme}.pem`),
      '--out',
      at(`app-${scheme}.bin`),
    ]);
    expect(sign.code, sign.stderr).toBe(0);
    const tampered = await readFile(at(`app-${scheme}.bin`));
    tampered[1000]! ^= 0x01;
    await writeFile(at(`tampered-${scheme}.bin`), tampered);
  }
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('firmware keygen', () => {
  it('writes a PEM private key readable only by its owner and prints its eFuse key digest', async () => {
    const info = await stat(at('rsa3072.pem'));
    expect(info.mode & 0o777).toBe(0o600);
    expect(await readFile(at('rsa3072.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const result = await runCli(['firmware', 'keygen', '--out', at('fresh.pem')]);
    expect(JSON.parse(result.stdout)).toEqual({
      out: at('fresh.pem'),
      scheme: 'rsa3072',
      key_digest: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('never overwrites a key', async () => {
    const before = await readFile(at('rsa3072.pem'));
    const result = await runCli(['firmware', 'keygen', '--out', at('rsa3072.pem')]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/already exists; a signing key is never overwritten/);
    expect(await readFile(at('rsa3072.pem'))).toEqual(before);
  });

  it('refuses an unknown scheme as bad usage', async () => {
    const result = await runCli(['firmware', 'keygen', '--scheme', 'rsa2048', '--out', at('x.pem')]);
    expect(result.code).toBe(2);
  });
});

describe.each(SCHEMES)('firmware sign and verify (%s)', (scheme) => {
  it('signs: padded to 4 KiB plus one signature sector, and `image info` still reads it', async () => {
    const signed = await readFile(at(`app-${scheme}.bin`));
    expect(signed.length).toBe(Math.ceil(69_984 / 4096) * 4096 + 4096);
    const info = await runCli(['image', 'info', at(`app-${scheme}.bin`)]);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({
      chip: 'esp32c3',
      valid: true,
      app_description: { version: '1.6.0' },
    });
  });

  it('verifies with its key, and without one names the key digest', async () => {
    const withKey = await runCli([
      'firmware',
      'verify',
      at(`app-${scheme}.bin`),
      '--key',
      at(`${scheme}.pem`),
    ]);
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(JSON.parse(withKey.stdout)).toMatchObject({
      valid: true,
      blocks: [{ index: 0, scheme, digest_valid: true, signature_valid: true, trusted: true }],
    });
    const open = await runCli(['firmware', 'verify', at(`app-${scheme}.bin`)]);
    expect(open.code).toBe(0);
    expect(JSON.parse(open.stdout).blocks).toEqual([
      expect.objectContaining({ key_digest: keyDigests.get(scheme) }),
    ]);
  });

  it('refuses a flipped byte in the image', async () => {
    const result = await runCli([
      'firmware',
      'verify',
      at(`tampered-${scheme}.bin`),
      '--key',
      at(`${scheme}.pem`),
    ]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/signature invalid: .*modified after signing/);
  });

  it('refuses another key', async () => {
    const result = await runCli([
      'firmware',
      'verify',
      at(`app-${scheme}.bin`),
      '--key',
      at(`other-${scheme}.pem`),
    ]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/signed, but not by a trusted key/);
  });

  it('refuses to sign a signed image again', async () => {
    const result = await runCli([
      'firmware',
      'sign',
      at(`app-${scheme}.bin`),
      '--key',
      at(`${scheme}.pem`),
      '--out',
      at('twice.bin'),
    ]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/already ends in a signature sector/);
  });
});

describe('firmware sign: bad input', () => {
  it('refuses a file that is not an app image', async () => {
    await writeFile(at('notes.txt'), 'these are release notes, not a firmware image');
    const result = await runCli(['firmware', 'sign', at('notes.txt'), '--key', at('rsa3072.pem')]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/notes\.txt: not an ESP app image/);
  });

  it('refuses a corrupt image', async () => {
    const image = await readFile(at('app.bin'));
    image[40]! ^= 0xff;
    await writeFile(at('corrupt.bin'), image);
    const result = await runCli(['firmware', 'sign', at('corrupt.bin'), '--key', at('rsa3072.pem')]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/corrupt\.bin: the image checksum is wrong/);
  });

  it('refuses keys secure boot v2 cannot use, and public keys', async () => {
    const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(at('rsa2048.pem'), rsa2048.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(at('public.pem'), rsa2048.publicKey.export({ type: 'spki', format: 'pem' }));
    const weak = await runCli(['firmware', 'sign', at('app.bin'), '--key', at('rsa2048.pem')]);
    expect(weak.code).toBe(1);
    expect(oneLine(weak.stderr)).toMatch(/2048 bits: secure boot v2 takes RSA-3072 only/);
    const publicOnly = await runCli(['firmware', 'sign', at('app.bin'), '--key', at('public.pem')]);
    expect(publicOnly.code).toBe(1);
    expect(oneLine(publicOnly.stderr)).toMatch(/public\.pem: not a PEM private key/);
  });

  it('verify refuses an unsigned image as unsigned', async () => {
    const misaligned = await runCli(['firmware', 'verify', at('app.bin')]);
    expect(misaligned.code).toBe(1);
    expect(oneLine(misaligned.stderr)).toMatch(
      /app\.bin: a signed image is a non-zero multiple of 4096 bytes/,
    );
    const padded = new Uint8Array(73_728).fill(0xff);
    padded.set(await readFile(at('app.bin')));
    await writeFile(at('unsigned.bin'), padded);
    const unsigned = await runCli(['firmware', 'verify', at('unsigned.bin')]);
    expect(unsigned.code).toBe(1);
    expect(oneLine(unsigned.stderr)).toMatch(/unsigned\.bin: not signed/);
  });
});

interface Espsecure {
  dir: string;
  version: string;
  major: number;
}

/** The esptool checkouts SENTINEL_ESPTOOL names (their version from esptool/__init__.py). */
function discover(): { tools: Espsecure[]; skipReason?: string } {
  const named = (process.env[ENV_NAME] ?? '').split(':').filter((d) => d.length > 0);
  if (named.length === 0)
    return { tools: [], skipReason: `${ENV_NAME} is not set (colon-separated esptool checkouts)` };
  const modules = spawnSync(PYTHON, ['-c', 'import cryptography, ecdsa'], { encoding: 'utf8' });
  if (modules.error || modules.status !== 0)
    return {
      tools: [],
      skipReason: `${PYTHON} lacks cryptography or ecdsa (apt-get install python3-cryptography python3-ecdsa)`,
    };
  const tools: Espsecure[] = [];
  for (const dir of named) {
    let source: string;
    try {
      source = readFileSync(join(dir, 'esptool', '__init__.py'), 'utf8');
    } catch {
      console.warn(`${dir}: not an esptool checkout (no esptool/__init__.py)`);
      continue;
    }
    const match = /__version__\s*=\s*"(\d+)\.([^"]+)"/.exec(source);
    if (match) tools.push({ dir, version: `${match[1]}.${match[2]}`, major: Number(match[1]) });
  }
  if (tools.length === 0) return { tools, skipReason: `no esptool checkout in ${ENV_NAME}` };
  return { tools };
}

const { tools, skipReason } = discover();
if (skipReason) console.log(`espsecure tests skipped: ${skipReason} — see simulators/README.md`);

/** `python3 -m espsecure <command>`: 5.x spells commands with dashes, 4.x with underscores */
function espsecure(tool: Espsecure, command: string, args: string[]) {
  const name = tool.major >= 5 ? command.replaceAll('_', '-') : command;
  return spawnSync(PYTHON, ['-m', 'espsecure', name, ...args], {
    cwd: dir,
    env: { ...process.env, PYTHONPATH: tool.dir },
    encoding: 'utf8',
  });
}

describe.skipIf(tools.length === 0).each(tools)('Espressif espsecure $version', (tool) => {
  it.each(SCHEMES)('accepts our %s signatures, and refuses them tampered or under another key', (scheme) => {
    const ok = espsecure(tool, 'verify_signature', [
      '--version',
      '2',
      '--keyfile',
      at(`${scheme}.pem`),
      at(`app-${scheme}.bin`),
    ]);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Signature block 0 verification successful/);
    const tampered = espsecure(tool, 'verify_signature', [
      '--version',
      '2',
      '--keyfile',
      at(`${scheme}.pem`),
      at(`tampered-${scheme}.bin`),
    ]);
    expect(tampered.status).not.toBe(0);
    const stranger = espsecure(tool, 'verify_signature', [
      '--version',
      '2',
      '--keyfile',
      at(`other-${scheme}.pem`),
      at(`app-${scheme}.bin`),
    ]);
    expect(stranger.status).not.toBe(0);
  });

  it.each(SCHEMES)('signs %s images we verify, and its key digest is ours', async (scheme) => {
    const out = at(`esp-${tool.version}-${scheme}.bin`);
    const signed = espsecure(tool, 'sign_data', [
      '--version',
      '2',
      '--keyfile',
      at(`${scheme}.pem`),
      '--output',
      out,
      at('app.bin'),
    ]);
    expect(signed.status, signed.stdout + signed.stderr).toBe(0);
    const verify = await runCli(['firmware', 'verify', out, '--key', at(`${scheme}.pem`)]);
    expect(verify.code, verify.stderr).toBe(0);
    const ours = JSON.parse(verify.stdout).blocks[0].key_digest;
    const digestFile = at(`digest-${tool.version}-${scheme}.bin`);
    const digest = espsecure(tool, 'digest_sbv2_public_key', [
      '--keyfile',
      at(`${scheme}.pem`),
      '--output',
      digestFile,
    ]);
    expect(digest.status, digest.stdout + digest.stderr).toBe(0);
    expect((await readFile(digestFile)).toString('hex')).toBe(ours);
    // everything but the (randomised) signature and the CRC over it is byte-identical
    const theirs = await readFile(out);
    const mine = await readFile(at(`app-${scheme}.bin`));
    expect(theirs.length).toBe(mine.length);
    const sector = theirs.length - 4096;
    const signatureAt = sector + (scheme === 'rsa3072' ? 812 : 101);
    expect(theirs.subarray(0, signatureAt)).toEqual(mine.subarray(0, signatureAt));
    expect(theirs.subarray(sector + 1200)).toEqual(mine.subarray(sector + 1200));
  });
});

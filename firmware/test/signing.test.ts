// Secure boot v2 signature blocks: the layout, and our pure verifiers against node:crypto
// (OpenSSL) as the independent signer. Espressif's own espsecure.py checks the same
// images in tools/cli/test/firmware-sign.test.ts.
import { constants, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  buildAppImage,
  crc32,
  decodeSignatureBlock,
  type ImageSigner,
  padToSector,
  parseImage,
  publicKeyDigest,
  publicKeyFromJwk,
  readSignatureSector,
  rsaMPrime,
  rsaRInverse,
  SIGNATURE_BLOCK_SIZE,
  SignatureFormatError,
  signImage,
  verifyP256,
  verifyRsaPss,
  verifySignedImage,
} from '@sentinel/firmware';
import { describe, expect, it } from 'vitest';

function signerOf(privateKey: KeyObject): ImageSigner {
  const publicKey = publicKeyFromJwk(createPublicKey(privateKey).export({ format: 'jwk' }));
  return {
    publicKey,
    sign: (data) =>
      publicKey.scheme === 'rsa3072'
        ? sign('sha256', data, {
            key: privateKey,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: 32,
          })
        : sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 }).privateKey;
const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const KEYS = { rsa3072: rsa(), ecdsa256: ec() };
const OTHER = { rsa3072: rsa(), ecdsa256: ec() };

const image = buildAppImage({
  chip: 'esp32s3',
  appDesc: { projectName: 'picket', version: '1.5.0', idfVersion: 'v5.3.1' },
});

describe.each(['rsa3072', 'ecdsa256'] as const)('%s', (scheme) => {
  const signer = signerOf(KEYS[scheme]);

  it('signs like espsecure: 0xFF padding to 4 KiB, one block, the rest of the sector 0xFF', async () => {
    const signed = await signImage(image, signer);
    const padded = Math.ceil(image.length / 4096) * 4096;
    expect(signed.signedLength).toBe(padded);
    expect(signed.bytes.length).toBe(padded + 4096);
    expect(signed.bytes.subarray(0, image.length)).toEqual(image);
    expect(signed.bytes.subarray(image.length, padded).every((b) => b === 0xff)).toBe(true);
    const block = signed.bytes.subarray(padded, padded + SIGNATURE_BLOCK_SIZE);
    expect(block[0]).toBe(0xe7);
    expect(block[1]).toBe(scheme === 'rsa3072' ? 2 : 3);
    expect(block.subarray(4, 36)).toEqual(sha256(signed.bytes.subarray(0, padded)));
    const view = new DataView(block.buffer, block.byteOffset);
    expect(view.getUint32(1196, true)).toBe(crc32(block.subarray(0, 1196)));
    expect(block.subarray(1200).every((b) => b === 0)).toBe(true);
    expect(signed.bytes.subarray(padded + SIGNATURE_BLOCK_SIZE).every((b) => b === 0xff)).toBe(true);
    expect(signed.keyDigest).toBe(publicKeyDigest(signer.publicKey));
    // the signed image is still an app image (the bootloader ignores what follows it)
    const parsed = parseImage(signed.bytes);
    expect(parsed.sha256?.valid).toBe(true);
    expect(parsed.appDescription?.version).toBe('1.5.0');
  });

  it('verifies, and with trusted keys names whether the signer is one of them', async () => {
    const { bytes } = await signImage(image, signer);
    const open = verifySignedImage(bytes);
    expect(open.valid).toBe(true);
    expect(open.blocks).toEqual([
      expect.objectContaining({ index: 0, scheme, digestValid: true, signatureValid: true, valid: true }),
    ]);
    expect(verifySignedImage(bytes, { trusted: [signer.publicKey] }).valid).toBe(true);
    const stranger = verifySignedImage(bytes, { trusted: [signerOf(OTHER[scheme]).publicKey] });
    expect(stranger).toMatchObject({ valid: false, reason: 'signed, but not by a trusted key' });
  });

  it('verifies an image held in a Buffer (a file or a download) and leaves its bytes alone', async () => {
    const { bytes } = await signImage(image, signer);
    const held = Buffer.from(bytes); // Buffer#slice() is a view: reversing one would change the image
    expect(verifySignedImage(held)).toMatchObject({ valid: true });
    expect(verifySignedImage(held)).toMatchObject({ valid: true });
    expect(new Uint8Array(held)).toEqual(bytes);
  });

  it('refuses a flipped byte anywhere in the signed data', async () => {
    const { bytes } = await signImage(image, signer);
    for (const at of [0, 100, image.length - 1, image.length + 5]) {
      const tampered = bytes.slice();
      tampered[at]! ^= 0x01;
      const check = verifySignedImage(tampered);
      expect(check.valid, `byte ${at}`).toBe(false);
      expect(check.reason).toMatch(/modified after signing/);
    }
  });

  it('refuses a forged block: digest of the tampered image, old signature, CRC fixed up', async () => {
    const { bytes, signedLength } = await signImage(image, signer);
    const tampered = bytes.slice();
    tampered[50]! ^= 0x01;
    tampered.set(sha256(tampered.subarray(0, signedLength)), signedLength + 4);
    const block = tampered.subarray(signedLength, signedLength + SIGNATURE_BLOCK_SIZE);
    new DataView(block.buffer, block.byteOffset).setUint32(1196, crc32(block.subarray(0, 1196)), true);
    expect(verifySignedImage(tampered)).toMatchObject({
      valid: false,
      reason: 'the signature does not verify with the key in its block',
    });
  });

  it('refuses a signature made by another key under this key', async () => {
    const other = signerOf(OTHER[scheme]);
    const liar: ImageSigner = { publicKey: signer.publicKey, sign: other.sign };
    await expect(signImage(image, liar)).rejects.toMatchObject({ reason: 'bad-signature' });
  });

  it('reports a damaged block CRC as a problem, not a signature', async () => {
    const { bytes, signedLength } = await signImage(image, signer);
    const damaged = bytes.slice();
    damaged[signedLength + 600]! ^= 0xff;
    const check = verifySignedImage(damaged);
    expect(check.valid).toBe(false);
    expect(check.problems[0]?.reason).toMatch(/block CRC/);
  });

  it('refuses to sign twice', async () => {
    const { bytes } = await signImage(image, signer);
    await expect(signImage(bytes, signer)).rejects.toMatchObject({ reason: 'already-signed' });
  });
});

describe('verifiers against OpenSSL', () => {
  it('RSA-PSS: accepts OpenSSL signatures, refuses a changed digest or salt length', () => {
    const key = KEYS.rsa3072;
    const { n, e } = publicKeyFromJwk(createPublicKey(key).export({ format: 'jwk' })) as {
      n: bigint;
      e: number;
    };
    for (let i = 0; i < 5; i++) {
      const message = new TextEncoder().encode(`message ${i}`);
      const signature = sign('sha256', message, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
      expect(verifyRsaPss(sha256(message), signature, n, e)).toBe(true);
      expect(verifyRsaPss(sha256(new Uint8Array([i])), signature, n, e)).toBe(false);
      const otherSalt = sign('sha256', message, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 20,
      });
      expect(verifyRsaPss(sha256(message), otherSalt, n, e)).toBe(false);
    }
  });

  it('RSA Montgomery constants', () => {
    const { n } = publicKeyFromJwk(createPublicKey(KEYS.rsa3072).export({ format: 'jwk' })) as {
      n: bigint;
    };
    expect((n * BigInt(rsaMPrime(n)) + 1n) % (1n << 32n)).toBe(0n);
    expect(rsaRInverse(n)).toBe((1n << 6144n) % n);
  });

  it('P-256: accepts OpenSSL signatures, refuses changed ones', () => {
    const key = KEYS.ecdsa256;
    const { x, y } = publicKeyFromJwk(createPublicKey(key).export({ format: 'jwk' })) as {
      x: bigint;
      y: bigint;
    };
    for (let i = 0; i < 10; i++) {
      const message = new TextEncoder().encode(`message ${i}`);
      const raw = sign('sha256', message, { key, dsaEncoding: 'ieee-p1363' });
      const r = BigInt(`0x${Buffer.from(raw.subarray(0, 32)).toString('hex')}`);
      const s = BigInt(`0x${Buffer.from(raw.subarray(32)).toString('hex')}`);
      expect(verifyP256(sha256(message), r, s, x, y)).toBe(true);
      expect(verifyP256(sha256(message), r, s + 1n, x, y)).toBe(false);
      expect(verifyP256(sha256(new Uint8Array([i])), r, s, x, y)).toBe(false);
    }
  });
});

describe('keys and malformed input', () => {
  it('refuses keys secure boot v2 cannot carry', () => {
    const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const ed = generateKeyPairSync('ed25519').publicKey;
    for (const key of [rsa2048, p384, ed]) {
      expect(() => publicKeyFromJwk(key.export({ format: 'jwk' }))).toThrow(SignatureFormatError);
    }
    expect(() => publicKeyFromJwk({ kty: 'EC', crv: 'P-256', x: 'AQ', y: 'AQ' })).toThrow(
      /not a P-256 point/,
    );
  });

  it('an unsigned image is refused as such, a misaligned one as misaligned', () => {
    expect(() => verifySignedImage(padToSector(image))).toThrow(/no signature block/);
    expect(() => verifySignedImage(image)).toThrow(/multiple of 4096/);
    expect(readSignatureSector(new Uint8Array(8192).fill(0xff)).map((s) => s.state)).toEqual([
      'empty',
      'empty',
      'empty',
    ]);
    expect(decodeSignatureBlock(new Uint8Array(SIGNATURE_BLOCK_SIZE))).toMatchObject({ state: 'invalid' });
  });
});

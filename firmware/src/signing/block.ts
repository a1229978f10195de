// Writing and reading secure boot v2 signature blocks and sectors (layout in format.ts).

import { crc32 } from '../crc.js';
import { sha256, toHex } from '../hash.js';
import { fromBytesLE, toBytesLE } from './bigint.js';
import {
  CURVE_ID_P192,
  CURVE_ID_P256,
  CURVE_ID_P384,
  ECDSA_SHA_256,
  MAX_SIGNATURE_BLOCKS,
  RSA_MODULUS_BYTES,
  SIGNATURE_BLOCK_MAGIC,
  SIGNATURE_BLOCK_SIGNED_SIZE,
  SIGNATURE_BLOCK_SIZE,
  SIGNATURE_SECTOR_SIZE,
  SIGNATURE_VERSION_ECDSA,
  SIGNATURE_VERSION_RSA,
  SignatureFormatError,
  type SigningPublicKey,
} from './format.js';
import { rsaMPrime, rsaRInverse } from './rsa-pss.js';

const DIGEST_OFFSET = 4;
const KEY_OFFSET = 36;
/** n, e, R^-1, m' */
const RSA_KEY_SIZE = RSA_MODULUS_BYTES + 4 + RSA_MODULUS_BYTES + 4;
/** curve id, x, y */
const P256_KEY_SIZE = 1 + 64;
const CURVE_NAMES: Record<number, string> = {
  [CURVE_ID_P192]: 'P-192',
  [CURVE_ID_P256]: 'P-256',
  [CURVE_ID_P384]: 'P-384',
};

/**
 * The key as the block stores it, which is what ESP-IDF hashes into the eFuse key digest
 * (`espsecure.py digest_sbv2_public_key`): n, e, R^-1, m' for RSA; curve id, x, y for ECDSA.
 */
export function encodePublicKey(key: SigningPublicKey): Uint8Array {
  if (key.scheme === 'rsa3072') {
    const out = new Uint8Array(RSA_KEY_SIZE);
    const view = new DataView(out.buffer);
    out.set(toBytesLE(key.n, RSA_MODULUS_BYTES), 0);
    view.setUint32(RSA_MODULUS_BYTES, key.e, true);
    out.set(toBytesLE(rsaRInverse(key.n), RSA_MODULUS_BYTES), RSA_MODULUS_BYTES + 4);
    view.setUint32(2 * RSA_MODULUS_BYTES + 4, rsaMPrime(key.n), true);
    return out;
  }
  const out = new Uint8Array(P256_KEY_SIZE);
  out[0] = CURVE_ID_P256;
  out.set(toBytesLE(key.x, 32), 1);
  out.set(toBytesLE(key.y, 32), 33);
  return out;
}

/** SHA-256 of the encoded public key (hex): what a device with this key burned in eFuse trusts */
export const publicKeyDigest = (key: SigningPublicKey): string => toHex(sha256(encodePublicKey(key)));

/**
 * One 1216-byte block. `signature` is as crypto libraries give it: RSA big-endian, the
 * modulus' length; ECDSA r ‖ s big-endian, 32 bytes each (IEEE P1363).
 */
export function encodeSignatureBlock(
  key: SigningPublicKey,
  imageDigest: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  if (imageDigest.length !== 32)
    throw new SignatureFormatError('bad-signature', `image digest is ${imageDigest.length} bytes, not 32`);
  const block = new Uint8Array(SIGNATURE_BLOCK_SIZE);
  block[0] = SIGNATURE_BLOCK_MAGIC;
  block.set(imageDigest, DIGEST_OFFSET);
  const keyBytes = encodePublicKey(key);
  block.set(keyBytes, KEY_OFFSET);
  const signatureOffset = KEY_OFFSET + keyBytes.length;
  if (key.scheme === 'rsa3072') {
    if (signature.length !== RSA_MODULUS_BYTES)
      throw new SignatureFormatError(
        'bad-signature',
        `an RSA-3072 signature is ${RSA_MODULUS_BYTES} bytes, got ${signature.length}`,
      );
    block[1] = SIGNATURE_VERSION_RSA;
    block.set(Uint8Array.from(signature).reverse(), signatureOffset);
  } else {
    if (signature.length !== 64)
      throw new SignatureFormatError(
        'bad-signature',
        `a P-256 signature (r ‖ s) is 64 bytes, got ${signature.length}`,
      );
    block[1] = SIGNATURE_VERSION_ECDSA;
    block[2] = ECDSA_SHA_256;
    block.set(Uint8Array.from(signature.subarray(0, 32)).reverse(), signatureOffset);
    block.set(Uint8Array.from(signature.subarray(32)).reverse(), signatureOffset + 32);
  }
  const crc = crc32(block.subarray(0, SIGNATURE_BLOCK_SIGNED_SIZE));
  new DataView(block.buffer).setUint32(SIGNATURE_BLOCK_SIGNED_SIZE, crc, true);
  return block;
}

export type DecodedSignatureBlock =
  | {
      scheme: 'rsa3072';
      imageDigest: Uint8Array;
      key: Extract<SigningPublicKey, { scheme: 'rsa3072' }>;
      /** whether the stored R^-1 and m' belong to n (the bootloader computes with them) */
      constantsValid: boolean;
      /** big-endian, as verifiers take it */
      signature: Uint8Array;
      keyDigest: string;
    }
  | {
      scheme: 'ecdsa256';
      imageDigest: Uint8Array;
      key: Extract<SigningPublicKey, { scheme: 'ecdsa256' }>;
      r: bigint;
      s: bigint;
      keyDigest: string;
    };

export type SignatureSlot =
  | { index: number; state: 'empty' }
  | { index: number; state: 'invalid'; reason: string }
  | { index: number; state: 'unsupported'; reason: string }
  | ({ index: number; state: 'block' } & DecodedSignatureBlock);

/** Reads one block slot: empty (erased), invalid (bad magic/version/CRC), unsupported, or a block. */
export function decodeSignatureBlock(slot: Uint8Array, index = 0): SignatureSlot {
  if (slot.length !== SIGNATURE_BLOCK_SIZE)
    return {
      index,
      state: 'invalid',
      reason: `a block is ${SIGNATURE_BLOCK_SIZE} bytes, got ${slot.length}`,
    };
  if (slot.every((b) => b === 0xff)) return { index, state: 'empty' };
  if (slot[0] !== SIGNATURE_BLOCK_MAGIC)
    return { index, state: 'invalid', reason: `magic is 0x${slot[0]!.toString(16)}, expected 0xe7` };
  const version = slot[1]!;
  if (version !== SIGNATURE_VERSION_RSA && version !== SIGNATURE_VERSION_ECDSA)
    return { index, state: 'invalid', reason: `unknown block version 0x${version.toString(16)}` };
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  const stored = view.getUint32(SIGNATURE_BLOCK_SIGNED_SIZE, true);
  const computed = crc32(slot.subarray(0, SIGNATURE_BLOCK_SIGNED_SIZE));
  if (stored !== computed)
    return {
      index,
      state: 'invalid',
      reason: `block CRC is 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`,
    };
  // copies (Uint8Array.from): a Buffer's slice() would be a view of the caller's image
  const imageDigest = Uint8Array.from(slot.subarray(DIGEST_OFFSET, DIGEST_OFFSET + 32));
  if (version === SIGNATURE_VERSION_RSA) {
    const key = {
      scheme: 'rsa3072' as const,
      n: fromBytesLE(slot.subarray(KEY_OFFSET, KEY_OFFSET + RSA_MODULUS_BYTES)),
      e: view.getUint32(KEY_OFFSET + RSA_MODULUS_BYTES, true),
    };
    const rInverse = fromBytesLE(
      slot.subarray(KEY_OFFSET + RSA_MODULUS_BYTES + 4, KEY_OFFSET + 2 * RSA_MODULUS_BYTES + 4),
    );
    const mPrime = view.getUint32(KEY_OFFSET + 2 * RSA_MODULUS_BYTES + 4, true);
    if (key.n % 2n === 0n) return { index, state: 'invalid', reason: 'RSA modulus is even' };
    const signatureOffset = KEY_OFFSET + RSA_KEY_SIZE;
    return {
      index,
      state: 'block',
      scheme: 'rsa3072',
      imageDigest,
      key,
      constantsValid: rInverse === rsaRInverse(key.n) && mPrime === rsaMPrime(key.n),
      signature: Uint8Array.from(
        slot.subarray(signatureOffset, signatureOffset + RSA_MODULUS_BYTES),
      ).reverse(),
      keyDigest: toHex(sha256(slot.subarray(KEY_OFFSET, KEY_OFFSET + RSA_KEY_SIZE))),
    };
  }
  const hashType = slot[2]!;
  const curve = slot[KEY_OFFSET]!;
  if (hashType !== ECDSA_SHA_256 || curve !== CURVE_ID_P256)
    return {
      index,
      state: 'unsupported',
      reason: `ECDSA ${CURVE_NAMES[curve] ?? `curve ${curve}`} with hash type ${hashType}: only P-256 with SHA-256 is supported`,
    };
  const at = KEY_OFFSET + 1;
  const signatureOffset = KEY_OFFSET + P256_KEY_SIZE;
  return {
    index,
    state: 'block',
    scheme: 'ecdsa256',
    imageDigest,
    key: {
      scheme: 'ecdsa256',
      x: fromBytesLE(slot.subarray(at, at + 32)),
      y: fromBytesLE(slot.subarray(at + 32, at + 64)),
    },
    r: fromBytesLE(slot.subarray(signatureOffset, signatureOffset + 32)),
    s: fromBytesLE(slot.subarray(signatureOffset + 32, signatureOffset + 64)),
    keyDigest: toHex(sha256(slot.subarray(KEY_OFFSET, KEY_OFFSET + P256_KEY_SIZE))),
  };
}

/** The three slots of the signature sector that ends `signed` (a multiple of 4 KiB). */
export function readSignatureSector(signed: Uint8Array): SignatureSlot[] {
  if (signed.length < SIGNATURE_SECTOR_SIZE || signed.length % SIGNATURE_SECTOR_SIZE !== 0)
    throw new SignatureFormatError(
      'not-sector-aligned',
      `a signed image is a non-zero multiple of ${SIGNATURE_SECTOR_SIZE} bytes, this one is ${signed.length}`,
    );
  const sector = signed.subarray(signed.length - SIGNATURE_SECTOR_SIZE);
  return Array.from({ length: MAX_SIGNATURE_BLOCKS }, (_, index) =>
    decodeSignatureBlock(
      sector.subarray(index * SIGNATURE_BLOCK_SIZE, (index + 1) * SIGNATURE_BLOCK_SIZE),
      index,
    ),
  );
}

/** Whether `bytes` already ends in a signature sector with at least one well-formed block. */
export function hasSignatureSector(bytes: Uint8Array): boolean {
  if (bytes.length < SIGNATURE_SECTOR_SIZE || bytes.length % SIGNATURE_SECTOR_SIZE !== 0) return false;
  return readSignatureSector(bytes).some((slot) => slot.state === 'block' || slot.state === 'unsupported');
}

/** The image padded with 0xFF to the next 4 KiB boundary, as espsecure pads it: the signed data. */
export function padToSector(image: Uint8Array): Uint8Array {
  const length = Math.ceil(image.length / SIGNATURE_SECTOR_SIZE) * SIGNATURE_SECTOR_SIZE;
  if (length === image.length) return Uint8Array.from(image);
  const out = new Uint8Array(length).fill(0xff);
  out.set(image);
  return out;
}

/** `signedData` (sector-aligned) followed by a sector holding `blocks`, the rest 0xFF. */
export function appendSignatureSector(signedData: Uint8Array, blocks: readonly Uint8Array[]): Uint8Array {
  if (signedData.length % SIGNATURE_SECTOR_SIZE !== 0)
    throw new SignatureFormatError(
      'not-sector-aligned',
      `the signed data must end on a ${SIGNATURE_SECTOR_SIZE}-byte boundary (it is ${signedData.length} bytes)`,
    );
  if (blocks.length === 0 || blocks.length > MAX_SIGNATURE_BLOCKS)
    throw new SignatureFormatError(
      'bad-signature',
      `a signature sector holds 1 to ${MAX_SIGNATURE_BLOCKS} blocks, not ${blocks.length}`,
    );
  const out = new Uint8Array(signedData.length + SIGNATURE_SECTOR_SIZE).fill(0xff);
  out.set(signedData);
  blocks.forEach((block, index) => {
    out.set(block, signedData.length + index * SIGNATURE_BLOCK_SIZE);
  });
  return out;
}

/** whether two public keys are the same key */
export const keyEquals = (a: SigningPublicKey, b: SigningPublicKey): boolean =>
  a.scheme === 'rsa3072'
    ? b.scheme === 'rsa3072' && a.n === b.n && a.e === b.e
    : b.scheme === 'ecdsa256' && a.x === b.x && a.y === b.y;

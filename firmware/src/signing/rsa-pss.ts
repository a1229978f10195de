// RSA-PSS verification (RFC 8017 §8.1.2 and §9.1.2, MGF1 with SHA-256, 32-byte salt) and
// the Montgomery constants the secure boot v2 block stores beside the modulus. Pure, so
// the browser and the simulated devices check signatures the way the bootloader does.

import { sha256 } from '../hash.js';
import { bitLength, fromBytesBE, mod, modInverse, modPow, toBytesBE } from './bigint.js';
import { RSA_MODULUS_BYTES, RSA_PSS_SALT_LENGTH } from './format.js';

const HASH_LENGTH = 32;

/** R^-1 as the block stores it: R² mod n for R = 2^3072, i.e. 2^6144 mod n */
export const rsaRInverse = (n: bigint): bigint => (1n << BigInt(RSA_MODULUS_BYTES * 16)) % n;

/** m' = -n⁻¹ mod 2³² (the Montgomery multiplier of the RSA peripheral) */
export const rsaMPrime = (n: bigint): number => Number(mod(-modInverse(n, 1n << 32n), 1n << 32n));

function mgf1(seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const input = new Uint8Array(seed.length + 4);
  input.set(seed);
  for (let counter = 0, filled = 0; filled < length; counter++) {
    new DataView(input.buffer).setUint32(seed.length, counter);
    const block = sha256(input);
    out.set(block.subarray(0, Math.min(block.length, length - filled)), filled);
    filled += block.length;
  }
  return out;
}

/**
 * Whether `signature` (big-endian, the modulus' length) is an RSA-PSS signature over the
 * message whose SHA-256 is `digest`, by the key (n, e).
 */
export function verifyRsaPss(digest: Uint8Array, signature: Uint8Array, n: bigint, e: number): boolean {
  const modBits = bitLength(n);
  const k = Math.ceil(modBits / 8);
  if (signature.length !== k || digest.length !== HASH_LENGTH) return false;
  const s = fromBytesBE(signature);
  if (s >= n) return false;
  const emBits = modBits - 1;
  const emLength = Math.ceil(emBits / 8);
  const em = toBytesBE(modPow(s, BigInt(e), n), k).subarray(k - emLength);
  const saltLength = RSA_PSS_SALT_LENGTH;
  if (emLength < HASH_LENGTH + saltLength + 2 || em[emLength - 1] !== 0xbc) return false;
  const dbLength = emLength - HASH_LENGTH - 1;
  const h = em.subarray(dbLength, dbLength + HASH_LENGTH);
  const unusedBits = 8 * emLength - emBits;
  const topMask = 0xff >> unusedBits;
  if ((em[0]! & ~topMask & 0xff) !== 0) return false;
  const db = mgf1(h, dbLength);
  for (let i = 0; i < dbLength; i++) db[i] = db[i]! ^ em[i]!;
  db[0] = db[0]! & topMask;
  const separator = dbLength - saltLength - 1;
  for (let i = 0; i < separator; i++) if (db[i] !== 0) return false;
  if (db[separator] !== 0x01) return false;
  const mPrime = new Uint8Array(8 + HASH_LENGTH + saltLength);
  mPrime.set(digest, 8);
  mPrime.set(db.subarray(dbLength - saltLength), 8 + HASH_LENGTH);
  const expected = sha256(mPrime);
  let difference = 0;
  for (let i = 0; i < HASH_LENGTH; i++) difference |= expected[i]! ^ h[i]!;
  return difference === 0;
}

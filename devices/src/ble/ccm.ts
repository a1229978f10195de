// AES-128-CCM with 4-byte MICs, as BTHome (spec "Encryption") and MiBeacon v4/v5
// use it, and the unauthenticated CCM keystream MiBeacon v2/v3 relies on.
// Built from AES blocks (@noble/ciphers) after RFC 3610 rather than node:crypto,
// so the decoders run in a browser as well as in Node.
import { cbc, ecb } from '@noble/ciphers/aes.js';

const BLOCK = 16;

/** E(K, blocks): AES on each 16-byte block on its own (the building block of CCM). */
function encryptBlocks(key: Uint8Array, blocks: Uint8Array): Uint8Array {
  return ecb(key, { disablePadding: true }).encrypt(blocks);
}

/** The counter blocks A_0…A_count (RFC 3610 §2.3): flags = L - 1, the nonce, then i in L bytes. */
function counterBlocks(nonce: Uint8Array, count: number): Uint8Array {
  const l = 15 - nonce.length;
  const blocks = new Uint8Array((count + 1) * BLOCK);
  for (let i = 0; i <= count; i++) {
    const at = i * BLOCK;
    blocks[at] = l - 1;
    blocks.set(nonce, at + 1);
    for (let b = 0, n = i; b < l; b++, n >>>= 8) blocks[at + 15 - b] = n & 0xff;
  }
  return blocks;
}

/** S_0 (which masks the MIC) and the keystream S_1… that encrypts the payload. */
function keystream(
  key: Uint8Array,
  nonce: Uint8Array,
  length: number,
): { s0: Uint8Array; stream: Uint8Array } {
  const all = encryptBlocks(key, counterBlocks(nonce, Math.ceil(length / BLOCK)));
  return { s0: all.subarray(0, BLOCK), stream: all.subarray(BLOCK, BLOCK + length) };
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

const padded = (length: number) => Math.ceil(length / BLOCK) * BLOCK;

/** The CBC-MAC T of RFC 3610 §2.2 over B_0, the encoded additional data and the message. */
function authTag(
  key: Uint8Array,
  nonce: Uint8Array,
  message: Uint8Array,
  micLength: number,
  aad?: Uint8Array,
) {
  const l = 15 - nonce.length;
  const aadLength = aad?.length ?? 0;
  // additional data shorter than 2^16 - 2^8 is prefixed with its 2-byte length (§2.2)
  const aadBlock = aadLength > 0 ? padded(2 + aadLength) : 0;
  const input = new Uint8Array(BLOCK + aadBlock + padded(message.length));
  input[0] = (aadLength > 0 ? 0x40 : 0) | (((micLength - 2) / 2) << 3) | (l - 1);
  input.set(nonce, 1);
  for (let b = 0, n = message.length; b < l; b++, n >>>= 8) input[15 - b] = n & 0xff;
  if (aad && aadLength > 0) {
    input[BLOCK] = aadLength >> 8;
    input[BLOCK + 1] = aadLength & 0xff;
    input.set(aad, BLOCK + 2);
  }
  input.set(message, BLOCK + aadBlock);
  const chain = cbc(key, new Uint8Array(BLOCK), { disablePadding: true }).encrypt(input);
  return chain.subarray(chain.length - BLOCK, chain.length - BLOCK + micLength);
}

/** Constant time, so a forged MIC learns nothing from how long the refusal took. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

function usable(key: Uint8Array, nonce: Uint8Array, micLength: number): boolean {
  return (
    key.length === 16 &&
    nonce.length >= 7 &&
    nonce.length <= 13 &&
    micLength >= 4 &&
    micLength <= 16 &&
    micLength % 2 === 0
  );
}

/** Decrypts and checks the MIC; undefined when the key or the data is wrong. */
export function ccmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  mic: Uint8Array,
  aad?: Uint8Array,
): Uint8Array | undefined {
  if (!usable(key, nonce, mic.length)) return undefined;
  const { s0, stream } = keystream(key, nonce, ciphertext.length);
  const plain = xor(ciphertext, stream);
  const expected = xor(authTag(key, nonce, plain, mic.length, aad), s0);
  return sameBytes(expected, mic) ? plain : undefined;
}

export function ccmEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  micLength: number,
  aad?: Uint8Array,
): { ciphertext: Uint8Array; mic: Uint8Array } {
  if (!usable(key, nonce, micLength))
    throw new RangeError('AES-CCM needs a 16-byte key, a 7–13 byte nonce and an even MIC length of 4–16');
  const { s0, stream } = keystream(key, nonce, plaintext.length);
  return { ciphertext: xor(plaintext, stream), mic: xor(authTag(key, nonce, plaintext, micLength, aad), s0) };
}

/**
 * CCM's counter-mode half alone (RFC 3610 §2.3: A_i = flags | nonce | i, from i = 1).
 * Legacy MiBeacon (v2/v3) frames carry no usable MIC, so this is how they are read.
 */
export function ccmKeystreamXor(key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Uint8Array {
  return xor(data, keystream(key, nonce, data.length).stream);
}

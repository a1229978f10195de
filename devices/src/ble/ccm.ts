// AES-128-CCM with 4-byte MICs, as BTHome (spec "Encryption") and MiBeacon v4/v5
// use it, and the unauthenticated CCM keystream MiBeacon v2/v3 relies on.
// Keys become KeyObjects once and are cached, so a busy proxy does not re-import
// the same bindkey for every advertisement.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';

const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_LIMIT = 4096;

/** Callers usually hold on to the same key array (and never change its bytes): look it up by identity first. */
const byArray = new WeakMap<Uint8Array, KeyObject>();

export function aesKey(key: Uint8Array): KeyObject {
  const known = byArray.get(key);
  if (known !== undefined) return known;
  const object = keyByValue(key);
  byArray.set(key, object);
  return object;
}

function keyByValue(key: Uint8Array): KeyObject {
  const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
  let object = keyCache.get(id);
  if (object === undefined) {
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    object = createSecretKey(Buffer.from(key));
    keyCache.set(id, object);
  }
  return object;
}

/** Decrypts and checks the MIC; undefined when the key or the data is wrong. */
export function ccmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  mic: Uint8Array,
  aad?: Uint8Array,
): Uint8Array | undefined {
  try {
    const decipher = createDecipheriv('aes-128-ccm', aesKey(key), nonce, { authTagLength: mic.length });
    decipher.setAuthTag(mic);
    if (aad) decipher.setAAD(aad, { plaintextLength: ciphertext.length });
    const plain = decipher.update(ciphertext);
    decipher.final();
    return plain;
  } catch {
    return undefined;
  }
}

export function ccmEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  micLength: number,
  aad?: Uint8Array,
): { ciphertext: Uint8Array; mic: Uint8Array } {
  const cipher = createCipheriv('aes-128-ccm', aesKey(key), nonce, { authTagLength: micLength });
  if (aad) cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, mic: cipher.getAuthTag() };
}

/**
 * CCM's counter-mode half alone (RFC 3610 §2.3: A_i = flags | nonce | i, from i = 1).
 * Legacy MiBeacon (v2/v3) frames carry no usable MIC, so this is how they are read.
 */
export function ccmKeystreamXor(key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Uint8Array {
  const l = 15 - nonce.length;
  const iv = Buffer.alloc(16);
  iv[0] = l - 1;
  iv.set(nonce, 1);
  iv[15] = 1;
  const cipher = createCipheriv('aes-128-ctr', aesKey(key), iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

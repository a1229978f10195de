// AES-CCM written on AES blocks (browser-safe) against Node's OpenSSL implementation:
// two independent implementations must agree on every length and reject every forgery.
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ccmDecrypt, ccmEncrypt, ccmKeystreamXor } from '../src/ble/ccm.js';

function openssl(key: Uint8Array, nonce: Uint8Array, plain: Uint8Array, micLength: number, aad?: Uint8Array) {
  const cipher = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: micLength });
  if (aad) cipher.setAAD(aad, { plaintextLength: plain.length });
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { ciphertext: new Uint8Array(ciphertext), mic: new Uint8Array(cipher.getAuthTag()) };
}

describe('AES-128-CCM', () => {
  it('matches OpenSSL for BTHome/MiBeacon shapes and every payload length from 1 to 40 bytes', () => {
    for (let length = 1; length <= 40; length++) {
      for (const [nonceLength, micLength, aadLength] of [
        [13, 4, 0], // BTHome v2 (spec "Encryption"): 13-byte nonce, 4-byte MIC, no AAD
        [12, 4, 1], // MiBeacon v4/v5: 12-byte nonce, 4-byte MIC, AAD 0x11
        [13, 16, 20],
      ] as const) {
        const key = randomBytes(16);
        const nonce = randomBytes(nonceLength);
        const plain = randomBytes(length);
        const aad = aadLength > 0 ? randomBytes(aadLength) : undefined;
        const ours = ccmEncrypt(key, nonce, plain, micLength, aad);
        expect(ours).toEqual(openssl(key, nonce, plain, micLength, aad));
        expect(ccmDecrypt(key, nonce, ours.ciphertext, ours.mic, aad)).toEqual(new Uint8Array(plain));
      }
    }
  });

  it('refuses a wrong key, a flipped bit and a wrong MIC', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(13);
    const { ciphertext, mic } = ccmEncrypt(key, nonce, Uint8Array.from([2, 0xca, 9, 3, 0xbf, 0x13]), 4);
    expect(ccmDecrypt(randomBytes(16), nonce, ciphertext, mic)).toBeUndefined();
    const flipped = Uint8Array.from(ciphertext);
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(ccmDecrypt(key, nonce, flipped, mic)).toBeUndefined();
    expect(ccmDecrypt(key, nonce, ciphertext, Uint8Array.from([0, 0, 0, 0]))).toBeUndefined();
    expect(ccmDecrypt(key.subarray(0, 15), nonce, ciphertext, mic)).toBeUndefined();
  });

  it('gives the bare keystream of OpenSSL’s CTR mode from counter 1 (MiBeacon v2/v3)', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(12);
    const data = randomBytes(23);
    const iv = Buffer.concat([Buffer.from([15 - nonce.length - 1]), nonce, Buffer.alloc(15 - nonce.length)]);
    iv[15] = 1;
    const ctr = createCipheriv('aes-128-ctr', key, iv);
    expect(ccmKeystreamXor(key, nonce, data)).toEqual(
      new Uint8Array(Buffer.concat([ctr.update(data), ctr.final()])),
    );
  });
});

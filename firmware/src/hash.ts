// SHA-256 and MD5, synchronous, so the format libraries and the flasher run unchanged in
// Node and in the browser flasher page (Web Crypto is async-only and has no MD5, which
// the ESP ROM's SPI_FLASH_MD5 verification needs). In Node they are node:crypto's native
// digests: the pure JavaScript ones of @noble/hashes took ~25 ms per 1.5 MB image, which
// every OTA download check and catalog add paid; the browser keeps @noble/hashes.
import { md5 as md5Js } from '@noble/hashes/legacy.js';
import { sha256 as sha256Js } from '@noble/hashes/sha2.js';

/** the part of node:crypto used here (this package also runs in browsers: no import of it) */
interface NodeCrypto {
  createHash(algorithm: string): { update(data: Uint8Array): { digest(): Uint8Array } };
}
/** node:crypto where there is one (Node ≥ 20.16 loads built-ins synchronously this way) */
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;

const native =
  (algorithm: 'sha256' | 'md5', crypto: NodeCrypto) =>
  (data: Uint8Array): Uint8Array => {
    const digest = crypto.createHash(algorithm).update(data).digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
  };

export const sha256: (data: Uint8Array) => Uint8Array = nodeCrypto ? native('sha256', nodeCrypto) : sha256Js;
export const md5: (data: Uint8Array) => Uint8Array = nodeCrypto ? native('md5', nodeCrypto) : md5Js;

export const toHex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

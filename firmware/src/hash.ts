// SHA-256 and MD5 from @noble/hashes: synchronous and pure JavaScript, so the
// format libraries and the flasher run unchanged in Node and in the browser
// flasher page (Web Crypto is async-only and has no MD5, which the ESP ROM's
// SPI_FLASH_MD5 verification needs).
import { md5 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';

export { md5, sha256 };

export const toHex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

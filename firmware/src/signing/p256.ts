// ECDSA on NIST P-256 for ESP-IDF's ECDSA signature blocks, on @noble/curves (pure and
// browser-safe, like the rest of the firmware library). The block carries the SHA-256
// digest that was signed, so the digest is verified as it is (no second hash), and a
// high S is allowed: espsecure does not normalise it.
import { p256 } from '@noble/curves/nist.js';

const BYTES = 32;

function toBytes(value: bigint): Uint8Array | undefined {
  if (value < 0n) return undefined;
  const hex = value.toString(16).padStart(BYTES * 2, '0');
  if (hex.length > BYTES * 2) return undefined;
  return Uint8Array.from({ length: BYTES }, (_, i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

/** The uncompressed encoding 04 ‖ x ‖ y, or undefined when a coordinate does not fit. */
function publicKey(x: bigint, y: bigint): Uint8Array | undefined {
  const xs = toBytes(x);
  const ys = toBytes(y);
  return xs && ys ? Uint8Array.from([4, ...xs, ...ys]) : undefined;
}

/** whether (x, y) is a point of P-256 */
export function isOnP256(x: bigint, y: bigint): boolean {
  try {
    p256.Point.fromAffine({ x, y }).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/** ECDSA verification of a SHA-256 `digest` with signature (r, s) under the public key (x, y). */
export function verifyP256(digest: Uint8Array, r: bigint, s: bigint, x: bigint, y: bigint): boolean {
  const key = publicKey(x, y);
  const rs = toBytes(r);
  const ss = toBytes(s);
  if (!key || !rs || !ss) return false;
  try {
    return p256.verify(Uint8Array.from([...rs, ...ss]), digest, key, { prehash: false, lowS: false });
  } catch {
    return false;
  }
}

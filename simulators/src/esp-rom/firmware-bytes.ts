// Test and bench data for the flasher: bytes that compress about like firmware does.

/**
 * Bytes that compress about like firmware does (half): 4 KiB runs of xorshift noise
 * alternating with 4 KiB of structured filler. Cheap for deflate at level 9, unlike
 * finely interleaved noise, so a flash through the simulator stays quick.
 */
export function firmwareLikeBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    if ((i >>> 12) % 2 === 0) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    } else out[i] = (i >>> 8) % 3 === 0 ? 0xff : (i * 7) & 0x7f;
  }
  return out;
}

// Hex and text conversions the decoders share. Plain Uint8Array code (no Buffer), so the
// decoders bundle for a browser unchanged.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex, two digits a byte. */
export function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX[byte];
  return out;
}

/** Bytes of an even-length hex string; undefined when it is not one. */
export function bytesOfHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const utf8 = new TextDecoder('utf-8');

/** UTF-8 text (invalid sequences become U+FFFD, as Buffer#toString did). */
export function textOf(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

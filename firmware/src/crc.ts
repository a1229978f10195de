// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) with an explicit starting value.
//
// ESP-IDF's NVS code calls `esp_rom_crc32_le(0xffffffff, …)` and its generator calls
// `zlib.crc32(data, 0xFFFFFFFF)`: zlib inverts the value it is given before and after, so
// this is NOT the plain `crc32(data)` (which starts from 0). `crc32(data, 0xffffffff)` here
// gives the same number as both; `crc32(data)` gives the ordinary zlib/PNG CRC.

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** zlib-compatible `crc32(data, value)`: `value` is a previous result (0 to start plain). */
export function crc32(data: Uint8Array, value = 0): number {
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** The CRC ESP-IDF's NVS stores everywhere (page header, entry, string/blob data). */
export const nvsCrc32 = (data: Uint8Array): number => crc32(data, 0xffffffff);

// Xiaomi MiBeacon (service data 0xFE95). Frame layout per the MiBeacon protocol
// ("Frame Control" bits) as xiaomi-ble reads it:
//   frame control (2, LE) · product id (2, LE) · frame counter (1) ·
//   [MAC, reversed (6)] · [capability (1) [+ IO capability (1)]] · [objects] ·
//   encrypted: [extended counter (3) · MIC (4)] (v4/v5) or [counter (3) + 1] (v2/v3).
// Objects are id (2, LE) · length (1) · value, read with objects.ts.
import { readNum } from './bytes.js';
import { ccmDecrypt, ccmKeystreamXor } from './ccm.js';
import { fail, hex4, put } from './engine.js';
import { fieldEnd, readField } from './layout.js';
import {
  MIBEACON_MODELS,
  MIBEACON_OBJECTS,
  OBJECT_DECODERS,
  objectIndex,
  type TlvObject,
} from './objects.js';
import type { BleDecodeResult, MeasurementValue } from './types.js';

export const MIBEACON_UUID = 'fe95';

export const FRCTRL = {
  encrypted: 0x0008,
  macIncluded: 0x0010,
  capabilityIncluded: 0x0020,
  objectIncluded: 0x0040,
} as const;

const OBJECTS = objectIndex(MIBEACON_OBJECTS);
const AAD = Uint8Array.of(0x11);
/** Legacy (v2/v3) 12-byte bindkeys are stretched to 16 bytes with this filler in the middle. */
export const LEGACY_KEY_FILLER = Uint8Array.of(0x8d, 0x3d, 0x3c, 0x97);

export function legacyKey(bindkey: Uint8Array): Uint8Array {
  if (bindkey.length === 16) return bindkey;
  const key = new Uint8Array(16);
  key.set(bindkey.subarray(0, 6), 0);
  key.set(LEGACY_KEY_FILLER, 6);
  key.set(bindkey.subarray(6, 12), 10);
  return key;
}

/** v4/v5 nonce: MAC (as sent, reversed) · product id · frame counter · extended counter. */
export function mibeaconV4Nonce(macReversed: Uint8Array, data: Uint8Array, ext: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(12);
  nonce.set(macReversed, 0);
  nonce.set(data.subarray(2, 5), 6);
  nonce.set(ext, 9);
  return nonce;
}

/** v2/v3 nonce: frame control · product id · frame counter · counter (3) · first 5 bytes of the reversed MAC. */
export function mibeaconLegacyNonce(macReversed: Uint8Array, data: Uint8Array, ext: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(13);
  nonce.set(data.subarray(0, 5), 0);
  nonce.set(ext, 5);
  nonce.set(macReversed.subarray(0, 5), 8);
  return nonce;
}

/**
 * Walks id · length · value objects from `at`. Returns a problem, or the ids of
 * objects it had no row for (skipped, as xiaomi-ble does: the length byte says
 * where the next one starts).
 */
export function walkObjects(
  p: Uint8Array,
  at: number,
  index: Map<number, TlvObject>,
  idSize: 1 | 2,
  out: Record<string, MeasurementValue>,
  unknown?: number[],
): string | undefined {
  let i = at;
  // fewer bytes than an object header at the end are padding some firmwares send (xiaomi-ble ignores them too)
  while (i + idSize + 1 <= p.length) {
    const id = idSize === 2 ? p[i]! | (p[i + 1]! << 8) : p[i]!;
    const len = p[i + idSize]!;
    const start = i + idSize + 1;
    if (start + len > p.length)
      return `object ${hex4(id)} truncated: needs ${len} bytes, has ${p.length - start}`;
    const row = index.get(id);
    if (row === undefined) unknown?.push(id);
    else {
      if (len < row.minLength) return `object ${hex4(id)} is ${len} bytes, needs ${row.minLength}`;
      const value = p.subarray(start, start + len);
      if (row.decoder) OBJECT_DECODERS[row.decoder](value, out);
      for (const field of row.fields) {
        if (field.onlyEmpty && len !== 0) continue;
        if (fieldEnd(field) > len && field.constant === undefined) continue;
        const v = readField(value, field);
        if (v !== undefined) put(out, field.name, v);
      }
    }
    i = start + len;
  }
  return undefined;
}

/** A frame whose objects we have no rows for: say so rather than report an empty reading. */
function unsupportedObjects(ids: number[]): BleDecodeResult {
  return fail('unsupported', `MiBeacon object ${ids.map(hex4).join(', ')} is not supported`);
}

export function decodeMibeacon(
  data: Uint8Array,
  advMac: Uint8Array | undefined,
  bindkey: Uint8Array | undefined,
): BleDecodeResult {
  if (data.length < 5) return fail('malformed', `MiBeacon: ${data.length} bytes, the header alone needs 5`);
  const frctrl = data[0]! | (data[1]! << 8);
  const version = frctrl >> 12;
  const productId = data[2]! | (data[3]! << 8);
  const packetId = data[4]!;
  let i = 5;
  let macReversed: Uint8Array | undefined;
  if (frctrl & FRCTRL.macIncluded) {
    if (data.length < 11) return fail('malformed', 'MiBeacon: MAC flag set but the frame ends before it');
    macReversed = data.subarray(5, 11);
    if (advMac && !advMac.every((b, k) => b === macReversed![5 - k]))
      return fail('malformed', 'MiBeacon: the MAC inside the frame differs from the sender');
    i = 11;
  } else if (advMac) {
    macReversed = advMac.slice().reverse();
  }
  if (frctrl & FRCTRL.capabilityIncluded) {
    if (i >= data.length)
      return fail('malformed', 'MiBeacon: capability flag set but the frame ends before it');
    const capability = data[i]!;
    i += 1;
    // bit 5: one more byte, the IO capability (xiaomi-ble skips it the same way)
    if (capability & 0x20) i += 1;
  }
  const model = MIBEACON_MODELS[productId];
  const device = { manufacturer: 'Xiaomi', ...(model ? { model } : {}) };
  const out: Record<string, MeasurementValue> = {};
  const encrypted = (frctrl & FRCTRL.encrypted) !== 0;
  const format = encrypted ? 'xiaomi-mibeacon-encrypted' : 'xiaomi-mibeacon';
  // no objects (keyed devices send such frames in the clear too): nothing to read, nothing downgraded
  if (!(frctrl & FRCTRL.objectIncluded))
    return { ok: true, format, measurements: out, encrypted, packetId, device };
  if (!encrypted) {
    if (bindkey) return fail('downgrade', 'MiBeacon: a bindkey is configured but the frame is not encrypted');
    const unknown: number[] = [];
    const problem = walkObjects(data, i, OBJECTS, 2, out, unknown);
    if (problem) return fail('malformed', `MiBeacon: ${problem}`);
    if (unknown.length && Object.keys(out).length === 0) return unsupportedObjects(unknown);
    return { ok: true, format, measurements: out, encrypted, packetId, device };
  }
  if (!bindkey)
    return fail(
      'decrypt failed',
      `MiBeacon v${version}: the frame is encrypted and no bindkey is configured`,
    );
  if (!macReversed) return fail('decrypt failed', 'MiBeacon: no MAC to build the nonce from');
  let plain: Uint8Array | undefined;
  let counter: number;
  if (version >= 4) {
    if (bindkey.length !== 16)
      return fail('decrypt failed', `MiBeacon v${version}: bindkey must be 16 bytes, got ${bindkey.length}`);
    if (data.length < i + 7 + 1) return fail('malformed', `MiBeacon v${version}: encrypted frame too short`);
    const ext = data.subarray(data.length - 7, data.length - 4);
    plain = ccmDecrypt(
      bindkey,
      mibeaconV4Nonce(macReversed, data, ext),
      data.subarray(i, data.length - 7),
      data.subarray(data.length - 4),
      AAD,
    );
    if (!plain)
      return fail(
        'decrypt failed',
        `MiBeacon v${version}: MIC check failed (wrong bindkey or corrupted frame)`,
      );
    counter = (readNum(ext, 0, 'u24le') << 8) | packetId;
  } else {
    // v2/v3 frames carry no usable MIC; the key length is the only check we can make
    if (bindkey.length !== 12 && bindkey.length !== 16)
      return fail(
        'decrypt failed',
        `MiBeacon v${version}: bindkey must be 12 (or 16) bytes, got ${bindkey.length}`,
      );
    if (data.length < i + 4 + 1) return fail('malformed', `MiBeacon v${version}: encrypted frame too short`);
    const ext = data.subarray(data.length - 4, data.length - 1);
    plain = ccmKeystreamXor(
      legacyKey(bindkey),
      mibeaconLegacyNonce(macReversed, data, ext),
      data.subarray(i, data.length - 4),
    );
    counter = (readNum(ext, 0, 'u24le') << 8) | packetId;
  }
  const unknown: number[] = [];
  const problem = walkObjects(plain, 0, OBJECTS, 2, out, unknown);
  if (problem) {
    return version >= 4
      ? fail('malformed', `MiBeacon: ${problem}`)
      : fail(
          'decrypt failed',
          `MiBeacon v${version}: decrypted objects do not parse (wrong bindkey?): ${problem}`,
        );
  }
  if (unknown.length && Object.keys(out).length === 0) return unsupportedObjects(unknown);
  return { ok: true, format, measurements: out, encrypted, packetId, counter, device };
}

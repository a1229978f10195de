// Xiaomi MiBeacon and Qingping advertisements from measurements, with the
// decoder's object tables: each measurement goes into the first object row that
// carries it (and every other value that row needs is present).

import { createCipheriv } from 'node:crypto';
import {
  type BleAdvertisement,
  ccmEncrypt,
  encodeLayout,
  FRCTRL,
  type LayoutField,
  legacyKey,
  MIBEACON_OBJECTS,
  mibeaconLegacyNonce,
  mibeaconV4Nonce,
  QINGPING_OBJECTS,
  type TlvObject,
} from '@sentinel/devices';
import {
  advertisement,
  BleEncodeError,
  concat,
  type EncodeBase,
  type Measurements,
  macOf,
} from './common.js';

/** where a field ends: offset + the byte size in its type name (u24le → 3) */
function sizeOf(f: LayoutField): number {
  return f.at + Number(f.type.match(/\d+/)![0]) / 8;
}

function pickRows(
  rows: readonly TlvObject[],
  measurements: Measurements,
  what: string,
): { row: TlvObject; values: Measurements }[] {
  const left = new Map(Object.entries(measurements));
  left.delete('packet_id');
  const picked: { row: TlvObject; values: Measurements }[] = [];
  for (const row of rows) {
    const own = row.fields.filter((f) => f.constant === undefined);
    const consts = row.fields.filter((f) => f.constant !== undefined);
    if (own.length === 0 || row.fields.some((f) => f.onlyEmpty)) continue;
    if (!own.every((f) => left.has(f.name))) continue;
    // rows that imply a constant (motion: true) only fit when that is what we send
    if (!consts.every((f) => !left.has(f.name) || left.get(f.name) === f.constant)) continue;
    const values: Measurements = {};
    for (const f of own) values[f.name] = left.get(f.name)!;
    for (const f of [...own, ...consts]) left.delete(f.name);
    picked.push({ row, values });
  }
  if (left.size) throw new BleEncodeError(`${what} has no object for ${[...left.keys()].join(', ')}`);
  return picked;
}

function objectBytes(picked: { row: TlvObject; values: Measurements }[], idSize: 1 | 2): Uint8Array {
  return concat(
    ...picked.map(({ row, values }) => {
      const len = Math.max(row.minLength, ...row.fields.filter((f) => f.constant === undefined).map(sizeOf));
      const value = encodeLayout(
        { format: '', id: '', device: { manufacturer: '', model: '' }, match: {}, fields: row.fields },
        len,
        values,
      );
      const id = idSize === 2 ? [row.id & 0xff, row.id >> 8] : [row.id];
      return concat(id, [len], value);
    }),
  );
}

export interface MibeaconEncodeInput extends EncodeBase {
  measurements: Measurements;
  /** the Xiaomi product id (device type), e.g. 0x055b for LYWSD03MMC */
  productId: number;
  /** frame counter (packet id) 0–255 */
  frameCounter?: number;
  /** MiBeacon version: 2/3 (legacy encryption) or 4/5 (AES-CCM); default 5 */
  version?: 2 | 3 | 4 | 5;
  /** 16 bytes (v4/v5) or 12/16 bytes (v2/v3): encrypt */
  bindkey?: Uint8Array;
  /** extended 24-bit counter of encrypted frames (default 0) */
  counter?: number;
  /** put the MAC in the frame (default true) */
  includeMac?: boolean;
}

export function encodeMibeacon(input: MibeaconEncodeInput): BleAdvertisement {
  const version = input.version ?? 5;
  const macReversed = macOf(input.mac).slice().reverse();
  const includeMac = input.includeMac ?? true;
  const payload = objectBytes(pickRows(MIBEACON_OBJECTS, input.measurements, 'MiBeacon'), 2);
  const frctrl =
    (version << 12) |
    FRCTRL.objectIncluded |
    (includeMac ? FRCTRL.macIncluded : 0) |
    (input.bindkey ? FRCTRL.encrypted : 0);
  const header = concat(
    [
      frctrl & 0xff,
      frctrl >> 8,
      input.productId & 0xff,
      input.productId >> 8,
      (input.frameCounter ?? 0) & 0xff,
    ],
    includeMac ? macReversed : [],
  );
  let data: Uint8Array;
  if (!input.bindkey) data = concat(header, payload);
  else {
    const c = input.counter ?? 0;
    const ext = Uint8Array.of(c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0xff);
    if (version >= 4) {
      const { ciphertext, mic } = ccmEncrypt(
        input.bindkey,
        mibeaconV4Nonce(macReversed, header, ext),
        payload,
        4,
        Uint8Array.of(0x11),
      );
      data = concat(header, ciphertext, ext, mic);
    } else {
      // legacy frames: CCM's counter-mode keystream, no MIC checked by receivers
      const nonce = mibeaconLegacyNonce(macReversed, header, ext);
      const iv = new Uint8Array(16);
      iv[0] = 15 - nonce.length - 1;
      iv.set(nonce, 1);
      iv[15] = 1;
      const cipher = createCipheriv('aes-128-ctr', legacyKey(input.bindkey), iv);
      data = concat(header, cipher.update(payload), cipher.final(), ext, [0]);
    }
  }
  return advertisement(input, { serviceData: [{ uuid: 'fe95', data }], manufacturerData: [] });
}

export interface QingpingEncodeInput extends EncodeBase {
  measurements: Measurements;
  /** product id byte (default 0x01) */
  productId?: number;
}

export function encodeQingping(input: QingpingEncodeInput): BleAdvertisement {
  const macReversed = macOf(input.mac).slice().reverse();
  const packetId = input.measurements.packet_id;
  const payload = objectBytes(pickRows(QINGPING_OBJECTS, input.measurements, 'Qingping'), 1);
  const data = concat(
    [0x08, input.productId ?? 0x01],
    macReversed,
    payload,
    packetId !== undefined ? [0x0f, 1, Number(packetId) & 0xff] : [],
  );
  return advertisement(input, { serviceData: [{ uuid: 'fdcd', data }], manufacturerData: [] });
}

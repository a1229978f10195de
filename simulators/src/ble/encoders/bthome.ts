// BTHome v1/v2 advertisements from measurements (https://bthome.io/format/,
// https://bthome.io/encryption/), using the decoder's own object table.
import {
  type BleAdvertisement,
  BTHOME_INFO_ENCRYPTED,
  BTHOME_INFO_TRIGGER,
  BTHOME_OBJECTS,
  BTHOME_V1_AAD,
  type BthomeObject,
  bthomeV1Nonce,
  bthomeV2Nonce,
  ccmEncrypt,
  NUM_SIZE,
  writeNum,
} from '@sentinel/devices';
import {
  advertisement,
  BleEncodeError,
  baseName,
  concat,
  type EncodeBase,
  type Measurements,
  macOf,
  u32le,
} from './common.js';

export interface BthomeEncodeInput extends EncodeBase {
  measurements: Measurements;
  /** object 0x00; also taken from measurements.packet_id */
  packetId?: number;
  version?: 1 | 2;
  /** 16 bytes: encrypt with AES-CCM */
  bindkey?: Uint8Array;
  /** the encryption counter (default 1) */
  counter?: number;
  trigger?: boolean;
}

/** name → the row used to send it: the first row of that name (the finest resolution). */
const ROW_BY_NAME = new Map<string, BthomeObject>();
for (const row of BTHOME_OBJECTS)
  if (row.kind !== 'device' && !ROW_BY_NAME.has(row.name)) ROW_BY_NAME.set(row.name, row);

function valueBytes(row: BthomeObject, value: unknown, name: string): Uint8Array {
  switch (row.kind) {
    case 'text':
    case 'raw': {
      const body =
        row.kind === 'text' ? Buffer.from(String(value), 'utf8') : Buffer.from(String(value), 'hex');
      return concat([body.length], body);
    }
    case 'event':
    case 'dimmer': {
      const code = value === 'hold_press' ? 0x80 : (row.events ?? []).indexOf(String(value));
      if (code <= 0) throw new BleEncodeError(`BTHome: unknown ${row.name} event "${String(value)}"`);
      return row.kind === 'dimmer' ? Uint8Array.of(code, 1) : Uint8Array.of(code);
    }
    case 'bool': {
      if (typeof value !== 'boolean') throw new BleEncodeError(`BTHome: ${name} needs a boolean`);
      return Uint8Array.of(value ? 1 : 0);
    }
    default: {
      if (typeof value !== 'number') throw new BleEncodeError(`BTHome: ${name} needs a number`);
      const out = new Uint8Array(NUM_SIZE[row.type]);
      writeNum(out, 0, row.type, value / (row.factor ?? 1));
      return out;
    }
  }
}

/** The objects (id, value bytes) in id order, as the spec asks devices to send them. */
function objects(input: BthomeEncodeInput): { row: BthomeObject; bytes: Uint8Array }[] {
  const list: { row: BthomeObject; bytes: Uint8Array }[] = [];
  const packetId = input.packetId ?? input.measurements.packet_id;
  if (packetId !== undefined)
    list.push({ row: ROW_BY_NAME.get('packet_id')!, bytes: Uint8Array.of(Number(packetId) & 0xff) });
  for (const [name, value] of Object.entries(input.measurements)) {
    if (name === 'packet_id' || name === 'dimmer_steps') continue;
    const row = ROW_BY_NAME.get(name) ?? ROW_BY_NAME.get(baseName(name));
    if (!row) throw new BleEncodeError(`BTHome has no object for "${name}"`);
    list.push({ row, bytes: valueBytes(row, value, name) });
  }
  return list.sort((a, b) => a.row.id - b.row.id);
}

export function encodeBthome(input: BthomeEncodeInput): BleAdvertisement {
  const mac = macOf(input.mac);
  const objs = objects(input);
  const counter = u32le(input.counter ?? 1);
  if ((input.version ?? 2) === 1) {
    const payload = concat(
      ...objs.map(({ row, bytes }) => {
        const format = row.kind === 'text' ? 3 : row.type.startsWith('s') ? 1 : row.type === 'f32le' ? 2 : 0;
        return concat([(format << 5) | (bytes.length + 1), row.id], bytes);
      }),
    );
    if (!input.bindkey)
      return advertisement(input, { serviceData: [{ uuid: '181c', data: payload }], manufacturerData: [] });
    const { ciphertext, mic } = ccmEncrypt(
      input.bindkey,
      bthomeV1Nonce(mac, counter),
      payload,
      4,
      BTHOME_V1_AAD,
    );
    return advertisement(input, {
      serviceData: [{ uuid: '181e', data: concat(ciphertext, counter, mic) }],
      manufacturerData: [],
    });
  }
  const info =
    (2 << 5) | (input.bindkey ? BTHOME_INFO_ENCRYPTED : 0) | (input.trigger ? BTHOME_INFO_TRIGGER : 0);
  const payload = concat(...objs.map(({ row, bytes }) => concat([row.id], bytes)));
  if (!input.bindkey)
    return advertisement(input, {
      serviceData: [{ uuid: 'fcd2', data: concat([info], payload) }],
      manufacturerData: [],
    });
  const { ciphertext, mic } = ccmEncrypt(input.bindkey, bthomeV2Nonce(mac, info, counter), payload, 4);
  return advertisement(input, {
    serviceData: [{ uuid: 'fcd2', data: concat([info], ciphertext, counter, mic) }],
    manufacturerData: [],
  });
}

// Xiaomi scales, iBeacon and Eddystone frames (the formats special.ts in
// @sentinel/devices reads).
import type { BleAdvertisement } from '@sentinel/devices';
import { advertisement, BleEncodeError, concat, type EncodeBase } from './common.js';

export interface XiaomiScaleEncodeInput extends EncodeBase {
  /** 1 = Mi Smart Scale (0x181D), 2 = Mi Body Composition Scale (0x181B) */
  version: 1 | 2;
  /** kg */
  mass: number;
  stabilized: boolean;
  /** Ω (version 2, stabilized only) */
  impedance?: number;
}

export function encodeXiaomiScale(input: XiaomiScaleEncodeInput): BleAdvertisement {
  const raw = Math.round(input.mass * 200);
  const control = (input.stabilized ? 0x20 : 0) | (input.impedance !== undefined ? 0x02 : 0);
  // date: 2024-01-02 03:04:05, as the scale sends its clock
  const date = [0xe8, 0x07, 1, 2, 3, 4, 5];
  const data =
    input.version === 1
      ? concat([control, raw & 0xff, raw >> 8], date)
      : concat([0x02, control], date, [
          (input.impedance ?? 0) & 0xff,
          (input.impedance ?? 0) >> 8,
          raw & 0xff,
          raw >> 8,
        ]);
  return advertisement(input, {
    serviceData: [{ uuid: input.version === 1 ? '181d' : '181b', data }],
    manufacturerData: [],
  });
}

export interface IbeaconEncodeInput extends EncodeBase {
  /** 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx' */
  uuid: string;
  major: number;
  minor: number;
  /** measured power at 1 m, dBm */
  txPower: number;
}

export function encodeIbeacon(input: IbeaconEncodeInput): BleAdvertisement {
  const uuid = Buffer.from(input.uuid.replace(/-/g, ''), 'hex');
  if (uuid.length !== 16) throw new BleEncodeError(`iBeacon: "${input.uuid}" is not a 128-bit UUID`);
  const data = concat([0x02, 0x15], uuid, [
    input.major >> 8,
    input.major & 0xff,
    input.minor >> 8,
    input.minor & 0xff,
    input.txPower & 0xff,
  ]);
  return advertisement(input, { serviceData: [], manufacturerData: [{ companyId: 0x004c, data }] });
}

export type EddystoneEncodeInput = EncodeBase &
  (
    | { frame: 'uid'; txPower: number; namespace: string; instance: string }
    | { frame: 'url'; txPower: number; url: string }
    | { frame: 'tlm'; voltage: number; temperature: number; count: number; uptime: number }
  );

const SCHEMES = ['http://www.', 'https://www.', 'http://', 'https://'];

export function encodeEddystone(input: EddystoneEncodeInput): BleAdvertisement {
  let data: Uint8Array;
  switch (input.frame) {
    case 'uid':
      data = concat(
        [0x00, input.txPower & 0xff],
        Buffer.from(input.namespace, 'hex'),
        Buffer.from(input.instance, 'hex'),
        [0, 0],
      );
      break;
    case 'url': {
      const scheme = SCHEMES.findIndex((s) => input.url.startsWith(s));
      if (scheme < 0) throw new BleEncodeError(`Eddystone-URL: "${input.url}" has no http(s) scheme`);
      data = concat(
        [0x10, input.txPower & 0xff, scheme],
        Buffer.from(input.url.slice(SCHEMES[scheme]!.length), 'latin1'),
      );
      break;
    }
    case 'tlm': {
      const b = Buffer.alloc(14);
      b[0] = 0x20;
      b.writeUInt16BE(Math.round(input.voltage * 1000), 2);
      b.writeInt16BE(Math.round(input.temperature * 256), 4);
      b.writeUInt32BE(input.count, 6);
      b.writeUInt32BE(Math.round(input.uptime * 10), 10);
      data = b;
      break;
    }
  }
  return advertisement(input, { serviceData: [{ uuid: 'feaa', data }], manufacturerData: [] });
}

// BTHome v2 advertisements built by hand (https://bthome.io/format/), enough for
// the proxy and gateway tests and demos: packet id, temperature, humidity,
// battery, optionally AES-CCM encrypted. The full encoders live in encoders/.
import { createCipheriv } from 'node:crypto';
import type { SimulatedAdvertisement } from './sensor.js';

export interface BthomeReading {
  packetId?: number;
  /** °C, 0.01 resolution (object 0x02) */
  temperature?: number;
  /** %, 0.01 resolution (object 0x03) */
  humidity?: number;
  /** % (object 0x01) */
  battery?: number;
}

const BTHOME_UUID = 'fcd2';

/** The object bytes, in ascending object id order as the format requires. */
function objects(reading: BthomeReading): Buffer {
  const parts: Buffer[] = [];
  if (reading.packetId !== undefined) parts.push(Buffer.from([0x00, reading.packetId & 0xff]));
  if (reading.battery !== undefined) parts.push(Buffer.from([0x01, Math.round(reading.battery) & 0xff]));
  if (reading.temperature !== undefined) {
    const b = Buffer.alloc(3);
    b[0] = 0x02;
    b.writeInt16LE(Math.round(reading.temperature * 100), 1);
    parts.push(b);
  }
  if (reading.humidity !== undefined) {
    const b = Buffer.alloc(3);
    b[0] = 0x03;
    b.writeUInt16LE(Math.round(reading.humidity * 100), 1);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/**
 * BTHome v2 service data. With a bindkey, encrypted as the format says: AES-CCM,
 * 4-byte MIC, nonce = MAC + UUID (little-endian) + device info + counter.
 */
export function bthomeV2(
  mac: string,
  reading: BthomeReading,
  options: { bindkey?: Uint8Array; counter?: number; name?: string } = {},
): SimulatedAdvertisement {
  const payload = objects(reading);
  let data: Buffer;
  if (options.bindkey) {
    const info = 0x41; // version 2, encrypted
    const counter = Buffer.alloc(4);
    counter.writeUInt32LE((options.counter ?? 0) >>> 0);
    const nonce = Buffer.concat([
      Buffer.from(mac.replace(/:/g, ''), 'hex'),
      Buffer.from([0xd2, 0xfc, info]),
      counter,
    ]);
    const cipher = createCipheriv('aes-128-ccm', options.bindkey, nonce, { authTagLength: 4 });
    const encrypted = Buffer.concat([cipher.update(payload), cipher.final()]);
    data = Buffer.concat([Buffer.from([info]), encrypted, counter, cipher.getAuthTag()]);
  } else {
    data = Buffer.concat([Buffer.from([0x40]), payload]);
  }
  return {
    mac: mac.toUpperCase(),
    name: options.name,
    serviceData: [{ uuid: BTHOME_UUID, data }],
    manufacturerData: [],
  };
}

// Small builders for hand-written advertisements in the decoder tests.
import type { BleAdvertisement } from '../src/index.js';

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

export function serviceAdv(mac: string, uuid: string, data: string, name?: string): BleAdvertisement {
  return { mac, ...(name ? { name } : {}), serviceData: [{ uuid, data: hex(data) }], manufacturerData: [] };
}

export function manufacturerAdv(
  mac: string,
  companyId: number,
  data: string,
  name?: string,
): BleAdvertisement {
  return {
    mac,
    ...(name ? { name } : {}),
    serviceData: [],
    manufacturerData: [{ companyId, data: hex(data) }],
  };
}

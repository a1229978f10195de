// What every encoder takes besides its measurements, and small helpers.
import { type BleAdvertisement, type MeasurementValue, parseMac } from '@sentinel/devices';

export interface EncodeBase {
  /** 'AA:BB:CC:DD:EE:FF' */
  mac: string;
  name?: string;
  rssi?: number;
}

export type Measurements = Record<string, MeasurementValue>;

/** Thrown when asked to encode something the format cannot carry. */
export class BleEncodeError extends Error {
  override name = 'BleEncodeError';
}

export function macOf(mac: string): Uint8Array {
  const bytes = parseMac(mac);
  if (!bytes) throw new BleEncodeError(`invalid MAC "${mac}"`);
  return bytes;
}

export function advertisement(
  base: EncodeBase,
  parts: Pick<BleAdvertisement, 'serviceData' | 'manufacturerData'> & { serviceUuids?: string[] },
): BleAdvertisement {
  return {
    mac: base.mac,
    ...(base.name !== undefined ? { name: base.name } : {}),
    ...(base.rssi !== undefined ? { rssi: base.rssi } : {}),
    ...parts,
  };
}

/** `temperature_2` → `temperature`. */
export function baseName(name: string): string {
  return name.replace(/_\d+$/, '');
}

export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function u32le(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}

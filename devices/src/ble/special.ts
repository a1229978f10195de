// Formats whose values depend on flags in the same frame, so a plain layout row
// cannot say it: Xiaomi scales (0x181D, 0x181B), iBeacon, Eddystone.
import { readNum } from './bytes.js';
import { fail, hex2 } from './engine.js';
import { hexOf } from './hex.js';
import type { BleDecodeResult, MeasurementValue } from './types.js';

const LB = 0.45359237;

/** Unit byte: bit 0 = pounds, bit 4 = jin (0.5 kg), else kilograms; always reported in kg (CONTRACT §5). */
function scaleMass(raw: number, unit: number): number {
  const kg = unit & 0x01 ? (raw / 100) * LB : unit & 0x10 ? (raw / 100) * 0.5 : raw / 200;
  return Math.round(kg * 100) / 100;
}

/**
 * Mi Smart Scale (0x181D, 10 bytes): control (1) · mass (2, LE) · date/time.
 * Body Composition Scale (0x181B, 13 bytes): unit (1) · control (1) · date/time (7) · impedance (2) · mass (2).
 * Control bit 5 = stabilized, bit 7 = load removed (a removed load is never "stabilized").
 */
export function decodeXiaomiScale(uuid: '181d' | '181b', data: Uint8Array): BleDecodeResult {
  const v2 = uuid === '181b';
  const want = v2 ? 13 : 10;
  if (data.length !== want)
    return fail('malformed', `Xiaomi scale ${uuid}: ${data.length} bytes, expected ${want}`);
  const unit = data[0]!;
  const control = v2 ? data[1]! : data[0]!;
  const stabilized = (control & 0x20) !== 0 && (control & 0x80) === 0;
  const mass = scaleMass(readNum(data, v2 ? 11 : 1, 'u16le'), unit);
  const out: Record<string, MeasurementValue> = { mass_non_stabilized: mass, stabilized };
  if (stabilized) out.mass = mass;
  if (v2 && stabilized && control & 0x02) out.impedance = readNum(data, 9, 'u16le');
  return {
    ok: true,
    format: v2 ? 'xiaomi-scale-v2' : 'xiaomi-scale-v1',
    measurements: out,
    encrypted: false,
    device: { manufacturer: 'Xiaomi', model: v2 ? 'Mi Body Composition Scale' : 'Mi Smart Scale' },
  };
}

function uuidString(b: Uint8Array): string {
  const h = hexOf(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const APPLE_COMPANY_ID = 0x004c;

/** iBeacon (Apple manufacturer data): 0x02 0x15 · proximity UUID (16) · major (2, BE) · minor (2, BE) · tx power (1). */
export function decodeIbeacon(data: Uint8Array): BleDecodeResult | undefined {
  if (data.length < 2 || data[0] !== 0x02 || data[1] !== 0x15) return undefined;
  if (data.length < 23) return fail('malformed', `iBeacon: ${data.length} bytes, expected 23`);
  return {
    ok: true,
    format: 'ibeacon',
    measurements: {
      uuid: uuidString(data.subarray(2, 18)),
      major: readNum(data, 18, 'u16be'),
      minor: readNum(data, 20, 'u16be'),
      tx_power: readNum(data, 22, 's8'),
    },
    encrypted: false,
    device: { manufacturer: 'Apple', model: 'iBeacon' },
  };
}

export const EDDYSTONE_UUID = 'feaa';
const URL_SCHEMES = ['http://www.', 'https://www.', 'http://', 'https://'];
const URL_EXPANSIONS = [
  '.com/',
  '.org/',
  '.edu/',
  '.net/',
  '.info/',
  '.biz/',
  '.gov/',
  '.com',
  '.org',
  '.edu',
  '.net',
  '.info',
  '.biz',
  '.gov',
];

/** Eddystone (google/eddystone protocol-specification.md): UID 0x00, URL 0x10, TLM 0x20 (unencrypted). */
export function decodeEddystone(data: Uint8Array): BleDecodeResult {
  if (data.length < 1) return fail('malformed', 'Eddystone: empty service data');
  const frame = data[0]!;
  const ok = (format: string, measurements: Record<string, MeasurementValue>): BleDecodeResult => ({
    ok: true,
    format,
    measurements,
    encrypted: false,
    device: { model: 'Eddystone' },
  });
  switch (frame) {
    case 0x00: {
      if (data.length < 18)
        return fail('malformed', `Eddystone-UID: ${data.length} bytes, expected 18 or 20`);
      return ok('eddystone-uid', {
        tx_power: readNum(data, 1, 's8'),
        uuid: hexOf(data.subarray(2, 12)),
        instance_id: hexOf(data.subarray(12, 18)),
      });
    }
    case 0x10: {
      if (data.length < 3) return fail('malformed', `Eddystone-URL: ${data.length} bytes, needs at least 3`);
      const scheme = URL_SCHEMES[data[2]!];
      if (scheme === undefined)
        return fail('malformed', `Eddystone-URL: unknown scheme prefix ${hex2(data[2]!)}`);
      let url = scheme;
      for (const byte of data.subarray(3)) url += URL_EXPANSIONS[byte] ?? String.fromCharCode(byte);
      return ok('eddystone-url', { tx_power: readNum(data, 1, 's8'), url });
    }
    case 0x20: {
      if (data.length < 14) return fail('malformed', `Eddystone-TLM: ${data.length} bytes, expected 14`);
      if (data[1] !== 0x00)
        return fail(
          'unsupported',
          `Eddystone-TLM version ${hex2(data[1]!)} (encrypted TLM) is not supported`,
        );
      const out: Record<string, MeasurementValue> = {};
      const mv = readNum(data, 2, 'u16be');
      if (mv !== 0) out.voltage = mv / 1000;
      const t = readNum(data, 4, 's16be');
      if (t !== -32768) out.temperature = Math.round((t / 256) * 100) / 100;
      out.count = readNum(data, 6, 'u32be');
      out.uptime = Math.round(readNum(data, 10, 'u32be')) / 10;
      return ok('eddystone-tlm', out);
    }
    default:
      return fail('unsupported', `Eddystone frame type ${hex2(frame)} is not supported`);
  }
}

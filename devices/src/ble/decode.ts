// decodeAdvertisement: routes each service-data and manufacturer-data entry of an
// advertisement to the table that owns its UUID or company id, and returns the
// first decoded result (a second record of the same format merged into it), or
// the most telling failure.
import {
  BTHOME_V1_ENCRYPTED_UUID,
  BTHOME_V1_UUID,
  BTHOME_V2_UUID,
  decodeBthomeV1,
  decodeBthomeV2,
} from './bthome.js';
import { readNum } from './bytes.js';
import { hex4 } from './engine.js';
import { LAYOUT_FORMATS } from './formats.js';
import { bytesOfHex } from './hex.js';
import { decodeLayout, type LayoutFormat, type RejectedFrame } from './layout.js';
import { decodeMibeacon, MIBEACON_UUID } from './mibeacon.js';
import { decodeQingping, QINGPING_UUID } from './qingping.js';
import {
  APPLE_COMPANY_ID,
  decodeEddystone,
  decodeIbeacon,
  decodeXiaomiScale,
  EDDYSTONE_UUID,
} from './special.js';
import type {
  BleAdvertisement,
  BleDecodeFailure,
  BleDecodeResult,
  BleDecodeSuccess,
  DecodeOptions,
  MeasurementValue,
} from './types.js';

const BY_UUID = new Map<string, LayoutFormat[]>();
const BY_COMPANY = new Map<number, LayoutFormat[]>();
/**
 * rows matched by the advertisement, whatever the company id: by local name
 * (Inkbird sends data in the company-id bytes) or by a listed service UUID
 * (Govee meat thermometers, whose first payload bytes land in the company id)
 */
const BY_ADV: LayoutFormat[] = [];
for (const row of LAYOUT_FORMATS) {
  const { serviceUuid, companyId } = row.match;
  if (serviceUuid !== undefined) BY_UUID.set(serviceUuid, [...(BY_UUID.get(serviceUuid) ?? []), row]);
  else if (companyId !== undefined) BY_COMPANY.set(companyId, [...(BY_COMPANY.get(companyId) ?? []), row]);
  else BY_ADV.push(row);
}

const BASE_UUID_SUFFIX = '-0000-1000-8000-00805f9b34fb';

/** '0000fcd2-0000-1000-8000-00805f9b34fb' → 'fcd2'; 16-bit forms pass through lowercased. */
export function shortUuid(uuid: string): string {
  const u = uuid.length === 4 ? uuid : uuid.toLowerCase();
  if (u.length === 36 && u.startsWith('0000') && u.endsWith(BASE_UUID_SUFFIX)) return u.slice(4, 8);
  return u.length === 4 ? u.toLowerCase() : u;
}

const macCache = new Map<string, Uint8Array | undefined>();

/** 6 bytes in display order; undefined for an empty or unparsable MAC (platforms that hide it). */
export function parseMac(mac: string): Uint8Array | undefined {
  let bytes = macCache.get(mac);
  if (bytes !== undefined || macCache.has(mac)) return bytes;
  const hex = mac.replace(/[:-]/g, '');
  bytes = /^[0-9a-fA-F]{12}$/.test(hex) ? bytesOfHex(hex) : undefined;
  if (macCache.size > 50_000) macCache.clear();
  macCache.set(mac, bytes);
  return bytes;
}

/** Whether a row claims this frame (its prefix, model byte and name fit), and whether the length fits too. */
function matches(row: LayoutFormat, frame: Uint8Array, adv: BleAdvertisement): 'yes' | 'length' | 'other' {
  const m = row.match;
  const name = adv.name;
  if (m.listedUuid !== undefined && !adv.serviceUuids?.includes(m.listedUuid)) return 'other';
  if (m.prefix) for (let i = 0; i < m.prefix.length; i++) if (frame[i] !== m.prefix[i]) return 'other';
  if (m.firstByte && ((frame[0] ?? 0) & m.firstByte.mask) !== m.firstByte.value) return 'other';
  if (m.namePrefix && !(name && m.namePrefix.some((p) => name.startsWith(p)))) return 'other';
  if (m.length && !m.length.includes(frame.length)) return 'length';
  if (m.minLength !== undefined && frame.length < m.minLength) return 'length';
  return 'yes';
}

function isRejected(v: Record<string, MeasurementValue> | RejectedFrame): v is RejectedFrame {
  // measurement values are never objects
  return typeof v.rejectedBy === 'object';
}

function fromLayout(row: LayoutFormat, frame: Uint8Array): BleDecodeResult {
  if (row.unsupported)
    return {
      ok: false,
      error: 'unsupported',
      detail: `${row.device.manufacturer} ${row.device.model}: ${row.unsupported}`,
    };
  const out = decodeLayout(frame, row);
  if (isRejected(out))
    return {
      ok: false,
      error: 'malformed',
      detail: `${row.device.manufacturer} ${row.device.model}: the device marks ${out.rejectedBy.name} invalid`,
    };
  return {
    ok: true,
    format: row.format,
    measurements: out,
    encrypted: false,
    ...(row.packetId ? { packetId: readNum(frame, row.packetId.at, row.packetId.type) } : {}),
    device: row.device,
  };
}

/** Where Apple's iBeacon header starts inside a frame: some stacks append that record to the previous manufacturer data. */
function ibeaconTail(frame: Uint8Array): number {
  for (let i = 1; i + 4 <= frame.length; i++)
    if (frame[i] === 0x4c && frame[i + 1] === 0x00 && frame[i + 2] === 0x02 && frame[i + 3] === 0x15)
      return i;
  return -1;
}

function tryRows(
  rows: readonly LayoutFormat[],
  frame: Uint8Array,
  adv: BleAdvertisement,
  what: string,
): BleDecodeResult {
  let claimed: LayoutFormat | undefined;
  for (const row of rows) {
    const verdict = matches(row, frame, adv);
    if (verdict === 'yes') return fromLayout(row, frame);
    if (verdict === 'length') claimed ??= row;
  }
  if (claimed) {
    const tail = ibeaconTail(frame);
    if (tail > 0) return tryRows(rows, frame.subarray(0, tail), adv, what);
  }
  if (claimed && !claimed.match.otherLengthsUnsupported) {
    const lengths = [
      ...new Set(
        rows.filter((r) => matches(r, frame, adv) === 'length').flatMap((r) => r.match.length ?? []),
      ),
    ];
    return {
      ok: false,
      error: 'malformed',
      detail: `${what} (${claimed.device.manufacturer}): ${frame.length} bytes, expected ${lengths.sort((a, b) => a - b).join(' or ')}`,
    };
  }
  return { ok: false, error: 'unsupported', detail: `${what}: ${frame.length} bytes match no known model` };
}

function decodeServiceData(
  uuid: string,
  data: Uint8Array,
  adv: BleAdvertisement,
  bindkey: Uint8Array | undefined,
): BleDecodeResult | undefined {
  switch (uuid) {
    case BTHOME_V2_UUID:
      return decodeBthomeV2(data, parseMac(adv.mac) ?? new Uint8Array(6), bindkey);
    case BTHOME_V1_UUID:
    case BTHOME_V1_ENCRYPTED_UUID:
      return decodeBthomeV1(
        data,
        uuid === BTHOME_V1_ENCRYPTED_UUID,
        parseMac(adv.mac) ?? new Uint8Array(6),
        bindkey,
      );
    case MIBEACON_UUID:
      return decodeMibeacon(data, parseMac(adv.mac), bindkey);
    case QINGPING_UUID:
      return decodeQingping(data, parseMac(adv.mac));
    case '181d':
    case '181b':
      return decodeXiaomiScale(uuid, data);
    case EDDYSTONE_UUID:
      return decodeEddystone(data);
    default: {
      const rows = BY_UUID.get(uuid === '0d00' ? 'fd3d' : uuid);
      return rows ? tryRows(rows, data, adv, `service data ${uuid}`) : undefined;
    }
  }
}

function decodeManufacturerData(
  companyId: number,
  data: Uint8Array,
  adv: BleAdvertisement,
): BleDecodeResult | undefined {
  if (companyId === APPLE_COMPANY_ID) {
    const beacon = decodeIbeacon(data);
    if (beacon) return beacon;
  }
  // rows told apart by name or listed UUID first: their company-id bytes are not a company id
  if (adv.name !== undefined || adv.serviceUuids?.length) {
    const frame = new Uint8Array(data.length + 2);
    frame[0] = companyId & 0xff;
    frame[1] = companyId >> 8;
    frame.set(data, 2);
    for (const row of BY_ADV) {
      const target = row.withCompanyId ? frame : data;
      const verdict = matches(row, target, adv);
      if (verdict === 'yes') return fromLayout(row, target);
      const tail = verdict === 'length' ? ibeaconTail(target) : -1;
      if (tail > 0 && matches(row, target.subarray(0, tail), adv) === 'yes')
        return fromLayout(row, target.subarray(0, tail));
    }
  }
  const rows = BY_COMPANY.get(companyId);
  if (rows) return tryRows(rows, data, adv, `manufacturer data ${hex4(companyId)}`);
  return undefined;
}

const RANK: Record<BleDecodeFailure['error'], number> = {
  unsupported: 0,
  malformed: 1,
  'decrypt failed': 2,
  downgrade: 3,
};

/**
 * Decodes one advertisement. `options.bindkey` is the device's key: encrypted data
 * without it is `decrypt failed`, and plain data from a device that has a key is
 * `downgrade`. An advertisement may carry several entries (a Govee with an iBeacon
 * beside it): the first one that decodes wins.
 */
export function decodeAdvertisement(adv: BleAdvertisement, options: DecodeOptions = {}): BleDecodeResult {
  let failure: BleDecodeFailure | undefined;
  let found: BleDecodeSuccess | undefined;
  const services = adv.serviceData;
  const manufacturers = adv.manufacturerData;
  // one loop over both kinds of record, no closure: this runs for every advertisement a proxy hears
  for (let i = 0; i < services.length + manufacturers.length; i++) {
    let r: BleDecodeResult | undefined;
    if (i < services.length) {
      const entry = services[i]!;
      r = decodeServiceData(shortUuid(entry.uuid), entry.data, adv, options.bindkey);
    } else {
      const entry = manufacturers[i - services.length]!;
      // a sensor that also sends an iBeacon record: its own data decides
      if (entry.companyId === APPLE_COMPANY_ID && manufacturers.length > 1) continue;
      r = decodeManufacturerData(entry.companyId, entry.data, adv);
    }
    if (r === undefined) continue;
    if (!r.ok) {
      if (!failure || RANK[r.error] > RANK[failure.error]) failure = r;
    } else if (found === undefined) found = r;
    else if (found.format === r.format) {
      // one device, two records (SwitchBot Outdoor Meter: battery in service data, climate in manufacturer data)
      found = { ...found, measurements: { ...r.measurements, ...found.measurements } };
    }
  }
  if (found) return found;
  if (failure) return failure;
  const seen = [
    ...adv.serviceData.map((s) => `service data ${s.uuid}`),
    ...adv.manufacturerData.map((m) => `manufacturer data ${hex4(m.companyId)}`),
  ];
  return {
    ok: false,
    error: 'unsupported',
    detail: seen.length
      ? `no decoder for ${seen.join(', ')}`
      : 'the advertisement carries no service or manufacturer data',
  };
}

// What a BLE proxy and the gateway say to each other over NATS (bridges/ble-proxy/README.md).
// Pure (zod only, no noble, no NATS): the protocol module both sides import, so the
// gateway never loads the proxy's package (DESIGN.md, dependency direction).
//
// Advertisements travel as raw AD structures (Bluetooth Core Specification v5.4,
// Vol 3, Part C, §11: length, AD type, data), so a decoder added to the gateway
// later reads bytes the proxy never had to understand.
import { z } from 'zod';

export const WIRE_VERSION = 1;

/** A proxy id is one NATS subject token, and short enough for a label. */
export const ProxyIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be 1–32 lower-case letters, digits, - or _');

export const bleSubject = {
  adv: (proxyId: string) => `sentinel.ble.proxy.${proxyId}.adv`,
  advAll: 'sentinel.ble.proxy.*.adv',
  status: (proxyId: string) => `sentinel.ble.proxy.${proxyId}.status`,
  statusAll: 'sentinel.ble.proxy.*.status',
  proxyGatt: (proxyId: string, op: GattOp) => `sentinel.ble.proxy.${proxyId}.gatt.${op}`,
  proxyGattAll: (proxyId: string) => `sentinel.ble.proxy.${proxyId}.gatt.>`,
  proxyNotify: (proxyId: string, connection: string) => `sentinel.ble.proxy.${proxyId}.notify.${connection}`,
  proxyNotifyAll: 'sentinel.ble.proxy.*.notify.*',
  /** the platform's side, served by the gateway's BLE adapter */
  deviceGatt: (deviceId: string, op: GattOp) => `sentinel.ble.gatt.${deviceId}.${op}`,
  deviceGattAll: 'sentinel.ble.gatt.*.*',
  /** notifications of a platform subscription, relayed by the gateway */
  deviceNotify: (deviceId: string) => `sentinel.ble.notify.${deviceId}`,
};

// ---------------------------------------------------------------------------
// addresses

/** `A4:C1:38:0A:1B:2C` or `a4c1380a1b2c` → `a4c1380a1b2c`; undefined when not a MAC. */
export function compactMac(mac: string): string | undefined {
  const hex = mac.toLowerCase().replace(/[:-]/g, '');
  return /^[0-9a-f]{12}$/.test(hex) ? hex : undefined;
}

/** `a4c1380a1b2c` → `A4:C1:38:0A:1B:2C` (what decoders and people read). */
export const colonMac = (compact: string) => compact.toUpperCase().replace(/(..)(?!$)/g, '$1:');

/** The gateway's device id of a BLE address (CONTRACT.md §3). */
export const bleDeviceId = (compact: string) => `ble-${compact}`;

// ---------------------------------------------------------------------------
// AD structures

/** What noble reports of an advertisement (its parsed form) and what the gateway decodes. */
export interface AdvertisementFields {
  localName?: string | undefined;
  txPowerLevel?: number | undefined;
  serviceUuids?: readonly string[] | undefined;
  serviceData?: readonly { uuid: string; data: Uint8Array }[] | undefined;
  /** company id (little-endian, 2 bytes) followed by the data, as on the air */
  manufacturerData?: Uint8Array | undefined;
}

const AD = {
  uuid16Complete: 0x03,
  uuid128Complete: 0x07,
  nameShort: 0x08,
  nameComplete: 0x09,
  txPower: 0x0a,
  serviceData16: 0x16,
  serviceData32: 0x20,
  serviceData128: 0x21,
  manufacturer: 0xff,
} as const;

/** 128-bit UUIDs travel little-endian on the air (Core v5.4, Vol 3, Part B, §2.5.1). */
function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '').toLowerCase();
  return Buffer.from(hex, 'hex').reverse();
}

function uuidString(bytes: Uint8Array): string {
  return Buffer.from(bytes).reverse().toString('hex');
}

/**
 * Rebuilds the AD structures of an advertisement from noble's parsed form. HCI
 * delivers the bytes and noble parses them; this puts back the ones decoders need
 * (service data, manufacturer data, names, service UUIDs, TX power), byte for byte.
 */
export function encodeAdStructures(adv: AdvertisementFields): Buffer {
  const parts: Buffer[] = [];
  const push = (type: number, data: Uint8Array) => {
    if (data.length > 254) return; // cannot be one AD structure; never produced by a radio
    parts.push(Buffer.from([data.length + 1, type]), Buffer.from(data));
  };
  if (adv.localName) push(AD.nameComplete, Buffer.from(adv.localName, 'utf8'));
  if (adv.txPowerLevel !== undefined && Number.isInteger(adv.txPowerLevel))
    push(AD.txPower, Buffer.from([adv.txPowerLevel & 0xff]));
  const short = (adv.serviceUuids ?? []).filter((u) => u.length === 4);
  const long = (adv.serviceUuids ?? []).filter((u) => u.replace(/-/g, '').length === 32);
  if (short.length > 0) push(AD.uuid16Complete, Buffer.concat(short.map(uuidBytes)));
  if (long.length > 0) push(AD.uuid128Complete, Buffer.concat(long.map(uuidBytes)));
  for (const { uuid, data } of adv.serviceData ?? []) {
    const id = uuidBytes(uuid);
    const type = id.length === 2 ? AD.serviceData16 : id.length === 4 ? AD.serviceData32 : AD.serviceData128;
    push(type, Buffer.concat([id, Buffer.from(data)]));
  }
  if (adv.manufacturerData && adv.manufacturerData.length >= 2) push(AD.manufacturer, adv.manufacturerData);
  return Buffer.concat(parts);
}

export class MalformedAdError extends Error {
  override name = 'MalformedAdError';
}

/** Parses AD structures (the inverse of encodeAdStructures, and of any radio's bytes). */
export function parseAdStructures(bytes: Uint8Array): Required<Omit<AdvertisementFields, 'txPowerLevel'>> & {
  txPowerLevel?: number;
} {
  const out = {
    localName: '',
    serviceUuids: [] as string[],
    serviceData: [] as { uuid: string; data: Uint8Array }[],
    manufacturerData: new Uint8Array(0),
  } as Required<Omit<AdvertisementFields, 'txPowerLevel'>> & { txPowerLevel?: number };
  const uuids: string[] = [];
  const services: { uuid: string; data: Uint8Array }[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = bytes[offset]!;
    if (length === 0) break; // early termination is allowed (Core v5.4, Vol 3, Part C, §11)
    if (offset + 1 + length > bytes.length)
      throw new MalformedAdError(`AD structure at byte ${offset} runs past the end`);
    const type = bytes[offset + 1]!;
    const data = bytes.subarray(offset + 2, offset + 1 + length);
    offset += 1 + length;
    switch (type) {
      case AD.nameShort:
      case AD.nameComplete:
        out.localName = Buffer.from(data).toString('utf8');
        break;
      case AD.txPower:
        if (data.length === 1) out.txPowerLevel = (data[0]! << 24) >> 24;
        break;
      case 0x02:
      case AD.uuid16Complete:
        for (let i = 0; i + 2 <= data.length; i += 2) uuids.push(uuidString(data.subarray(i, i + 2)));
        break;
      case 0x06:
      case AD.uuid128Complete:
        for (let i = 0; i + 16 <= data.length; i += 16) uuids.push(uuidString(data.subarray(i, i + 16)));
        break;
      case AD.serviceData16:
      case AD.serviceData32:
      case AD.serviceData128: {
        const size = type === AD.serviceData16 ? 2 : type === AD.serviceData32 ? 4 : 16;
        if (data.length < size) throw new MalformedAdError(`service data shorter than its ${size}-byte UUID`);
        services.push({ uuid: uuidString(data.subarray(0, size)), data: data.subarray(size) });
        break;
      }
      case AD.manufacturer:
        if (data.length < 2) throw new MalformedAdError('manufacturer data without a company id');
        out.manufacturerData = data;
        break;
      default:
        break; // flags, appearance and the rest: kept in the bytes, not needed here
    }
  }
  out.serviceUuids = uuids;
  out.serviceData = services;
  return out;
}

// ---------------------------------------------------------------------------
// subject sentinel.ble.proxy.<id>.adv: a batch of raw advertisements

export const AddressTypeSchema = z.enum(['public', 'random']);
export type AddressType = z.infer<typeof AddressTypeSchema>;

/** One advertisement as the proxy heard it. */
export interface RawAdvertisement {
  /** 12 lower-case hex digits */
  mac: string;
  addressType: AddressType;
  rssi: number;
  /** ms since the epoch, when the proxy heard it */
  ts: number;
  /** AD structures (service/manufacturer data, name, UUIDs) */
  ad: Uint8Array;
}

/**
 * v1 entry: `[mac, address type (0 public, 1 random), rssi, ts − batch ts (ms, ≤ 0),
 * AD structures base64]`. Arrays, not objects: a batch of 100 entries is about 6 KB.
 */
const EntrySchema = z.tuple([
  z.string().regex(/^[0-9a-f]{12}$/),
  z.union([z.literal(0), z.literal(1)]),
  z.number().int().min(-127).max(127),
  z.number().int().min(-3_600_000).max(0),
  z
    .string()
    .max(1024)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/),
]);

export const AdvBatchSchema = z.object({
  v: z.literal(WIRE_VERSION),
  proxy: ProxyIdSchema,
  /** increases by one per batch; a gap means batches were dropped */
  seq: z.number().int().nonnegative(),
  ts: z.number().int().positive(),
  adv: z.array(z.unknown()).max(10_000),
});
export type AdvBatch = z.infer<typeof AdvBatchSchema>;

export function encodeAdvBatch(proxy: string, seq: number, entries: readonly RawAdvertisement[]): string {
  const ts = entries.length > 0 ? entries[entries.length - 1]!.ts : Date.now();
  const adv = entries.map((e) => [
    e.mac,
    e.addressType === 'public' ? 0 : 1,
    e.rssi,
    Math.min(0, e.ts - ts),
    Buffer.from(e.ad).toString('base64'),
  ]);
  return JSON.stringify({ v: WIRE_VERSION, proxy, seq, ts, adv });
}

export type BatchProblem =
  | { kind: 'batch'; message: string }
  | { kind: 'entry'; index: number; message: string };

/**
 * Reads a batch. A batch that is not one (bad JSON, wrong version, wrong shape) is
 * refused whole; a bad entry in a good batch is skipped and reported, the rest kept.
 */
export function decodeAdvBatch(
  payload: Uint8Array,
):
  | { ok: true; batch: AdvBatch; entries: RawAdvertisement[]; problems: BatchProblem[] }
  | { ok: false; problem: BatchProblem } {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, problem: { kind: 'batch', message: 'not JSON' } };
  }
  const parsed = AdvBatchSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return {
      ok: false,
      problem: { kind: 'batch', message: `${issue.path.join('.') || 'batch'}: ${issue.message}` },
    };
  }
  const batch = parsed.data;
  const entries: RawAdvertisement[] = [];
  const problems: BatchProblem[] = [];
  batch.adv.forEach((raw, index) => {
    const entry = EntrySchema.safeParse(raw);
    if (!entry.success) {
      problems.push({ kind: 'entry', index, message: entry.error.issues[0]!.message });
      return;
    }
    const [mac, type, rssi, dt, ad] = entry.data;
    entries.push({
      mac,
      addressType: type === 0 ? 'public' : 'random',
      rssi,
      ts: batch.ts + dt,
      ad: Buffer.from(ad, 'base64'),
    });
  });
  return { ok: true, batch, entries, problems };
}

// ---------------------------------------------------------------------------
// subject sentinel.ble.proxy.<id>.status

export const AdapterStateSchema = z.enum([
  'poweredOn',
  'poweredOff',
  'unauthorized',
  'unsupported',
  'unknown',
  'resetting',
]);
export type AdapterState = z.infer<typeof AdapterStateSchema>;

export const ProxyStatusSchema = z.looseObject({
  v: z.literal(WIRE_VERSION),
  proxy: ProxyIdSchema,
  version: z.string(),
  ts: z.number().int(),
  /** the status is repeated at this interval; two missed ones mean the proxy is gone */
  interval_ms: z.number().int().positive(),
  adapter: AdapterStateSchema,
  scanning: z.enum(['active', 'paused', 'stopped']),
  gatt: z.object({ used: z.number().int().nonnegative(), total: z.number().int().nonnegative() }),
  buffer: z.object({ depth: z.number().int().nonnegative(), capacity: z.number().int().positive() }),
  dropped: z.object({ buffer: z.number().int().nonnegative() }).loose(),
  advertisements: z.number().int().nonnegative(),
  restarts: z.number().int().nonnegative(),
  rss_bytes: z.number().int().nonnegative(),
  uptime_s: z.number().nonnegative(),
  /** set when the proxy is stopping: the gateway forgets it at once */
  stopping: z.boolean().optional(),
});
export type ProxyStatus = z.infer<typeof ProxyStatusSchema>;

// ---------------------------------------------------------------------------
// GATT: request/reply on sentinel.ble.proxy.<id>.gatt.<op> and sentinel.ble.gatt.<device>.<op>

export const GATT_OPS = [
  'connect',
  'discover',
  'read',
  'write',
  'subscribe',
  'unsubscribe',
  'disconnect',
] as const;
export const GattOpSchema = z.enum(GATT_OPS);
export type GattOp = z.infer<typeof GattOpSchema>;

const Hex = z
  .string()
  .max(1024)
  .regex(/^([0-9a-fA-F]{2})*$/, 'must be hex bytes');
const Uuid = z
  .string()
  .regex(
    /^([0-9a-fA-F]{4}|[0-9a-fA-F]{8}|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$/,
    'must be a 16-, 32- or 128-bit UUID',
  )
  .transform((u) => u.replace(/-/g, '').toLowerCase());
/** connection ids are subject tokens */
const ConnectionId = z.string().regex(/^[a-z0-9_-]{1,32}$/);

/** Requests to a proxy. `mac` may use colons; the platform's requests omit it (the subject names the device). */
export const GattRequestSchemas = {
  connect: z.object({
    mac: z.string(),
    address_type: AddressTypeSchema.optional(),
    timeout_ms: z.number().int().min(100).max(60_000).optional(),
  }),
  discover: z.object({ connection: ConnectionId }),
  read: z.object({ connection: ConnectionId, service: Uuid, characteristic: Uuid }),
  write: z.object({
    connection: ConnectionId,
    service: Uuid,
    characteristic: Uuid,
    data: Hex,
    without_response: z.boolean().optional(),
  }),
  subscribe: z.object({ connection: ConnectionId, service: Uuid, characteristic: Uuid }),
  unsubscribe: z.object({ connection: ConnectionId, service: Uuid, characteristic: Uuid }),
  disconnect: z.object({ connection: ConnectionId }),
} satisfies Record<GattOp, z.ZodType>;

export type GattRequest<O extends GattOp> = z.infer<(typeof GattRequestSchemas)[O]>;

export const GATT_ERROR_CODES = [
  'invalid',
  'busy',
  'unavailable',
  'not_connected',
  'not_found',
  'timeout',
  'failed',
] as const;
export type GattErrorCode = (typeof GATT_ERROR_CODES)[number];

export interface GattService {
  uuid: string;
  characteristics: { uuid: string; properties: string[] }[];
}

export type GattReply =
  | {
      ok: true;
      connection?: string;
      proxy?: string;
      services?: GattService[];
      data?: string;
    }
  | { ok: false; error: { code: GattErrorCode; message: string } };

export const GattReplySchema = z.union([
  z.looseObject({
    ok: z.literal(true),
    connection: z.string().optional(),
    proxy: z.string().optional(),
    services: z
      .array(
        z.object({
          uuid: z.string(),
          characteristics: z.array(z.object({ uuid: z.string(), properties: z.array(z.string()) })),
        }),
      )
      .optional(),
    data: z.string().optional(),
  }),
  z.object({
    ok: z.literal(false),
    error: z.object({ code: z.enum(GATT_ERROR_CODES), message: z.string() }),
  }),
]);

export const gattFailure = (code: GattErrorCode, message: string): GattReply => ({
  ok: false,
  error: { code, message },
});

/** A notification: sentinel.ble.proxy.<id>.notify.<connection> and sentinel.ble.notify.<device>. */
export interface GattNotification {
  connection: string;
  service: string;
  characteristic: string;
  data: string;
  ts: number;
  /** set when the connection ended: no more notifications follow */
  disconnected?: boolean;
}

export const GattNotificationSchema = z.object({
  connection: z.string(),
  service: z.string(),
  characteristic: z.string(),
  data: z.string(),
  ts: z.number(),
  disconnected: z.boolean().optional(),
});

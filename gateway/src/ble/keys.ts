// Bindkeys of encrypted BLE sensors, in KV bucket sentinel_ble_keys: key
// `ble-<mac>` (the device id), value {"bindkey":"<hex>","ts"}. The adapter follows
// the bucket with a watch, so `sentinel ble key set` takes effect at once.
import type { JetStreamClient } from '@nats-io/jetstream';
import { StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { bleDeviceId, compactMac } from '@sentinel/protocol';
import { z } from 'zod';
import { bucketKeys } from '../bus/bucket-keys.js';
import { mirrorBucket } from '../bus/mirror.js';

export const BLE_KEYS_BUCKET = 'sentinel_ble_keys';

export const BleKeyRecordSchema = z.object({
  bindkey: z.string().regex(/^([0-9a-f]{24}|[0-9a-f]{32})$/),
  ts: z.number().int(),
});

export class InvalidBleKeyError extends Error {
  override name = 'InvalidBleKeyError';
}

/** A MAC as typed by a person → device id; throws InvalidBleKeyError. */
export function bleKeyDeviceId(mac: string): string {
  const compact = compactMac(mac);
  if (!compact) throw new InvalidBleKeyError(`"${mac}" is not a Bluetooth address (AA:BB:CC:DD:EE:FF)`);
  return bleDeviceId(compact);
}

/** A bindkey as typed → lower-case hex; 16 bytes (BTHome, MiBeacon v4/v5) or 12 (MiBeacon v2/v3). */
export function normalizeBindkey(hex: string): string {
  const clean = hex.trim().toLowerCase();
  if (!/^([0-9a-f]{24}|[0-9a-f]{32})$/.test(clean))
    throw new InvalidBleKeyError('a bindkey is 32 hex digits (16 bytes), or 24 (12 bytes) for old MiBeacon');
  return clean;
}

export async function openBleKeys(js: JetStreamClient): Promise<KV> {
  return new Kvm(js).create(BLE_KEYS_BUCKET, { history: 1, storage: StorageType.File });
}

/** What the CLI does with the bucket. */
export class BleKeyStore {
  constructor(private readonly kv: KV) {}

  static async open(js: JetStreamClient): Promise<BleKeyStore> {
    return new BleKeyStore(await openBleKeys(js));
  }

  async set(mac: string, hex: string): Promise<{ device_id: string }> {
    const deviceId = bleKeyDeviceId(mac);
    const bindkey = normalizeBindkey(hex);
    await this.kv.put(deviceId, JSON.stringify({ bindkey, ts: Date.now() }));
    return { device_id: deviceId };
  }

  /** false when there was no key */
  async remove(mac: string): Promise<boolean> {
    const deviceId = bleKeyDeviceId(mac);
    const entry = await this.kv.get(deviceId);
    if (entry?.operation !== 'PUT') return false;
    await this.kv.delete(deviceId);
    return true;
  }

  async list(): Promise<{ device_id: string; ts: number }[]> {
    const out: { device_id: string; ts: number }[] = [];
    for (const key of await bucketKeys(this.kv)) {
      const entry = await this.kv.get(key);
      if (entry?.operation !== 'PUT') continue;
      let value: unknown;
      try {
        value = entry.json();
      } catch {
        value = undefined; // junk written by someone else: not a key, and not a reason to fail the list
      }
      const parsed = BleKeyRecordSchema.safeParse(value);
      if (parsed.success) out.push({ device_id: key, ts: parsed.data.ts });
    }
    return out.sort((a, b) => a.device_id.localeCompare(b.device_id));
  }
}

/** The adapter's live view: device id → key bytes; `onChange` when a device's key changed. */
export async function followBleKeys(
  kv: KV,
  onChange: (deviceId: string) => void,
  onInvalid: (deviceId: string) => void,
): Promise<{ get(deviceId: string): Uint8Array | undefined; stop(): void }> {
  const keys = new Map<string, Uint8Array>();
  const stop = await mirrorBucket(kv, (deviceId, value) => {
    if (value === undefined) keys.delete(deviceId);
    else {
      const parsed = BleKeyRecordSchema.safeParse(value);
      if (!parsed.success) {
        keys.delete(deviceId);
        onInvalid(deviceId);
      } else keys.set(deviceId, Buffer.from(parsed.data.bindkey, 'hex'));
    }
    onChange(deviceId);
  });
  return { get: (deviceId) => keys.get(deviceId), stop };
}

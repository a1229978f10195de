// Adoption of BLE sensors. A sensor is adopted when its device record `ble-<mac>`
// exists in the registry. With `auto_adopt` on (the default: every sensor the
// decoders understand becomes a device at its first advertisement) adoption is
// automatic; with it off the BLE adapter only serves adopted sensors, and the rest
// wait in the heard list until a person adopts them (POST /api/ble/heard/<mac>/adopt).
// The setting lives in KV bucket sentinel_ble_settings, key `adoption`:
// {"auto_adopt":bool,"ts"}, followed by the adapter like the bindkeys.
import type { JetStreamClient } from '@nats-io/jetstream';
import { StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import {
  bleDeviceId,
  colonMac,
  MalformedAdError,
  parseAdStructures,
  type RawAdvertisement,
} from '@sentinel/protocol';
import { z } from 'zod';
import { mirrorBucket } from '../bus/mirror.js';
import { advertisementInput, type BleAdvertisementInput, type BleDecoded } from './decoder.js';

export const BLE_SETTINGS_BUCKET = 'sentinel_ble_settings';
const ADOPTION_KEY = 'adoption';

export const BleAdoptionSchema = z.object({ auto_adopt: z.boolean(), ts: z.number().int() });
export type BleAdoption = z.infer<typeof BleAdoptionSchema>;

export async function openBleSettings(js: JetStreamClient): Promise<KV> {
  return new Kvm(js).create(BLE_SETTINGS_BUCKET, { history: 1, storage: StorageType.File });
}

/** Unset or unreadable: automatic, as before adoption existed. */
function adoptionOf(value: unknown): boolean {
  const parsed = BleAdoptionSchema.safeParse(value);
  return parsed.success ? parsed.data.auto_adopt : true;
}

export class BleSettingsStore {
  constructor(private readonly kv: KV) {}

  static async open(js: JetStreamClient): Promise<BleSettingsStore> {
    return new BleSettingsStore(await openBleSettings(js));
  }

  async autoAdopt(): Promise<boolean> {
    const entry = await this.kv.get(ADOPTION_KEY);
    if (entry?.operation !== 'PUT') return true;
    try {
      return adoptionOf(entry.json());
    } catch {
      return true;
    }
  }

  async setAutoAdopt(auto: boolean): Promise<void> {
    await this.kv.put(ADOPTION_KEY, JSON.stringify({ auto_adopt: auto, ts: Date.now() }));
  }
}

/** The adapter's live view of the setting. */
export async function followBleSettings(kv: KV): Promise<{ autoAdopt(): boolean; stop(): void }> {
  let auto = true;
  const stop = await mirrorBucket(kv, (key, value) => {
    if (key === ADOPTION_KEY) auto = value === undefined ? true : adoptionOf(value);
  });
  return { autoAdopt: () => auto, stop };
}

export interface HeardAddress {
  /** `A4:C1:38:00:00:01` */
  mac: string;
  device_id: string;
  /** the advertised local name */
  name?: string;
  /** what the decoders made of it without a key (absent for encrypted data) */
  format?: string;
  model?: string;
  manufacturer?: string;
  encrypted: boolean;
  measurements: string[];
  lastSeen: number;
  /** each proxy that heard it: its last RSSI and when */
  proxies: Map<string, { rssi: number; at: number }>;
  /** the last understood advertisement, to try a bindkey on */
  input: BleAdvertisementInput;
  payload: string;
}

/**
 * Addresses the proxies hear whose advertisements a decoder understands (plain, or
 * encrypted data that a bindkey would open). Phones and headphones (unsupported
 * formats) are never kept. Bounded: the oldest go first.
 */
export class HeardTable {
  readonly #heard = new Map<string, HeardAddress>();

  constructor(
    private readonly decode: (adv: BleAdvertisementInput) => BleDecoded,
    private readonly o: { max: number; forgetMs: number } = { max: 512, forgetMs: 10 * 60_000 },
  ) {}

  observe(proxy: string, entry: RawAdvertisement, now: number): void {
    const deviceId = bleDeviceId(entry.mac);
    const payload = Buffer.from(entry.ad).toString('base64');
    const known = this.#heard.get(deviceId);
    if (known?.payload !== payload) {
      let fields: ReturnType<typeof parseAdStructures>;
      try {
        fields = parseAdStructures(entry.ad);
      } catch (error) {
        if (error instanceof MalformedAdError) return;
        throw error;
      }
      const input = advertisementInput(entry, fields);
      const result = this.decode(input);
      const understood = result.ok || result.error === 'decrypt failed';
      if (!understood) {
        // a scan response or an odd packet from an address already understood: just heard
        if (known) this.#hear(known, proxy, entry.rssi, now);
        return;
      }
      const next: HeardAddress = {
        mac: colonMac(entry.mac),
        device_id: deviceId,
        encrypted: result.ok ? result.encrypted : true,
        measurements: result.ok ? Object.keys(result.measurements).filter((k) => k !== 'packet_id') : [],
        lastSeen: now,
        proxies: known?.proxies ?? new Map(),
        input,
        payload,
      };
      const name = fields.localName || known?.name;
      if (name) next.name = name;
      if (result.ok) {
        next.format = result.format;
        if (result.device?.model) next.model = result.device.model;
        if (result.device?.manufacturer) next.manufacturer = result.device.manufacturer;
      }
      this.#heard.delete(deviceId);
      this.#heard.set(deviceId, next);
      this.#hear(next, proxy, entry.rssi, now);
      while (this.#heard.size > this.o.max) this.#heard.delete(this.#heard.keys().next().value!);
      return;
    }
    this.#hear(known, proxy, entry.rssi, now);
  }

  #hear(address: HeardAddress, proxy: string, rssi: number, now: number): void {
    address.lastSeen = now;
    address.proxies.set(proxy, { rssi, at: now });
  }

  get(deviceId: string, now: number): HeardAddress | undefined {
    const found = this.#heard.get(deviceId);
    return found && now - found.lastSeen <= this.o.forgetMs ? found : undefined;
  }

  /** Heard within `forgetMs`, nearest (loudest) first. */
  list(now: number): HeardAddress[] {
    for (const [id, address] of this.#heard) {
      if (now - address.lastSeen > this.o.forgetMs) this.#heard.delete(id);
      else
        for (const [proxy, heard] of address.proxies)
          if (now - heard.at > this.o.forgetMs) address.proxies.delete(proxy);
    }
    return [...this.#heard.values()].sort((a, b) => loudest(b) - loudest(a));
  }
}

/** the strongest signal any proxy heard it with lately */
export function loudest(address: HeardAddress): number {
  let best = Number.NEGATIVE_INFINITY;
  for (const heard of address.proxies.values()) best = Math.max(best, heard.rssi);
  return best;
}

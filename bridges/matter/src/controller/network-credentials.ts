// The Wi-Fi credentials and Thread datasets clients give (set_wifi_credentials,
// set_thread_dataset), kept in the controller's own storage beside its fabric: in the
// directory or the NATS KV bucket, so they survive a restart and a takeover by another
// gateway node. matter.js hands them to a device during commissioning when it has a Wi-Fi or
// Thread interface that is not connected yet. They are secrets: nothing here logs a value.
import { Logger, type StorageContext, type SupportedStorageTypes } from '@matter/main';
import { z } from 'zod';

/** The credential id the matter server uses when a client gives none; commissioning uses it. */
export const DEFAULT_CREDENTIAL_ID = 'default';

// SSIDs are at most 32 bytes; WPA passphrases 8…63 characters (or a 64-digit PSK)
export const WifiCredentials = z.object({
  ssid: z
    .string()
    .min(1)
    .refine((v) => Buffer.byteLength(v) <= 32, 'an SSID is at most 32 bytes'),
  credentials: z.string().max(64),
});
export type WifiCredentials = z.output<typeof WifiCredentials>;

// a Thread operational dataset as hex TLVs, at most 254 bytes
export const ThreadDataset = z
  .string()
  .regex(/^([0-9a-fA-F]{2}){1,254}$/, 'the dataset is hex bytes (the operational dataset TLVs)');

/** What is in storage: credentials by id (the matter server's optional `id`). */
const Stored = {
  wifi: z.record(z.string(), WifiCredentials),
  thread: z.record(z.string(), ThreadDataset),
};

/** What matter.js's commissioning options take (CommissioningClient / ControllerCommissioningFlow). */
export interface CommissioningNetworks {
  wifiNetwork?: { wifiSsid: string; wifiCredentials: string };
  threadNetwork?: { operationalDataset: string };
}

const logger = Logger.get('NetworkCredentials');

export class NetworkCredentials {
  readonly #context: StorageContext;
  readonly #persist: () => Promise<void>;
  #wifi: Record<string, WifiCredentials> = {};
  #thread: Record<string, string> = {};

  private constructor(context: StorageContext, persist: () => Promise<void>) {
    this.#context = context;
    this.#persist = persist;
  }

  /**
   * Reads what was kept in `context`. A record that does not fit is left in storage (for the
   * operator) and reported by key and reason only; the controller runs without it.
   */
  static async load(context: StorageContext, persist: () => Promise<void>): Promise<NetworkCredentials> {
    const credentials = new NetworkCredentials(context, persist);
    for (const key of ['wifi', 'thread'] as const) {
      if (!(await context.has(key))) continue;
      const parsed = Stored[key].safeParse(await context.get(key));
      if (!parsed.success) {
        // the path and message only: zod puts no input values in them
        logger.warn(
          `stored ${key} network credentials are unreadable and ignored (${parsed.error.issues[0]?.message})`,
        );
        continue;
      }
      if (key === 'wifi') credentials.#wifi = parsed.data as Record<string, WifiCredentials>;
      else credentials.#thread = parsed.data as Record<string, string>;
    }
    return credentials;
  }

  /** The default Wi-Fi network's SSID, when set (ServerInfo's wifi_ssid). */
  get wifiSsid(): string | undefined {
    return this.#wifi[DEFAULT_CREDENTIAL_ID]?.ssid;
  }

  get threadSet(): boolean {
    return this.#thread[DEFAULT_CREDENTIAL_ID] !== undefined;
  }

  /** Keeps the credentials under `id`; resolves once they are durable (and only then uses them). */
  async setWifi(id: string, wifi: WifiCredentials): Promise<void> {
    const next = { ...this.#wifi, [id]: { ssid: wifi.ssid, credentials: wifi.credentials } };
    await this.#write('wifi', next);
    this.#wifi = next;
  }

  /** Keeps the dataset (hex) under `id`; resolves once it is durable. */
  async setThread(id: string, dataset: string): Promise<void> {
    const next = { ...this.#thread, [id]: dataset.toLowerCase() };
    await this.#write('thread', next);
    this.#thread = next;
  }

  /** The default credentials as matter.js's commissioning options, those that are set. */
  commissioningNetworks(): CommissioningNetworks {
    const wifi = this.#wifi[DEFAULT_CREDENTIAL_ID];
    const thread = this.#thread[DEFAULT_CREDENTIAL_ID];
    return {
      ...(wifi ? { wifiNetwork: { wifiSsid: wifi.ssid, wifiCredentials: wifi.credentials } } : {}),
      ...(thread ? { threadNetwork: { operationalDataset: thread } } : {}),
    };
  }

  async #write(key: string, value: SupportedStorageTypes): Promise<void> {
    await this.#context.set(key, value);
    await this.#persist();
  }
}

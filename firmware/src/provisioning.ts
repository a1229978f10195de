// Provisioning data a picket device reads from NVS at boot: where its gateways are and
// who it is. Namespace `picket`; the keys are listed in firmware/README.md and below
// (NVS keys are at most 15 characters).
//
//   prov_ver   u8      layout version, 1
//   device_id  string  the picket id (`kitchen`, not `picket-kitchen`): MQTT client id/username
//   token      string  the device token printed once by `sentinel device add`
//   gw_count   u8      number of gateway URLs (1..8)
//   gw_url0..7 string  gateway URLs in order of preference (mqtt[s]://host:port or ws[s]://host:port/picket)
//   wifi_ssid  string  (optional) Wi-Fi network
//   wifi_pass  string  (optional) Wi-Fi password, empty for an open network

import { z } from 'zod';
import { FirmwareFormatError, firstIssue } from './format-error.js';
import { buildNvsPartition, NvsFormatError, type NvsItem, readNvsPartition } from './nvs/index.js';
import {
  DEFAULT_TABLE_OFFSET,
  decodePartitionTable,
  findPartition,
  type PartitionEntry,
  PartitionTableError,
} from './partitions/index.js';
import { PicketIdSchema } from './picket/index.js';

export const PROVISIONING_NAMESPACE = 'picket';
export const PROVISIONING_VERSION = 1;
export const MAX_GATEWAY_URLS = 8;
/** ESP-IDF's default `nvs` partition is 0x6000 bytes */
export const DEFAULT_NVS_SIZE = 0x6000;

export const PROVISIONING_KEYS = {
  version: 'prov_ver',
  deviceId: 'device_id',
  token: 'token',
  gatewayCount: 'gw_count',
  gatewayUrl: (index: number) => `gw_url${index}`,
  wifiSsid: 'wifi_ssid',
  wifiPassword: 'wifi_pass',
} as const;

const GatewayUrlSchema = z
  .string()
  .max(256)
  .refine((text) => {
    try {
      return ['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(new URL(text).protocol);
    } catch {
      return false;
    }
  }, 'must be an mqtt://, mqtts://, ws:// or wss:// URL');

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

export const ProvisioningSchema = z
  .object({
    gatewayUrls: z.array(GatewayUrlSchema).min(1).max(MAX_GATEWAY_URLS),
    deviceId: PicketIdSchema,
    token: z.string().min(1).max(512),
    wifi: z
      .object({
        // IEEE 802.11: an SSID is 1..32 bytes; WPA2-PSK passphrases are 8..63 characters
        ssid: z.string().refine((s) => utf8Length(s) >= 1 && utf8Length(s) <= 32, 'must be 1 to 32 bytes'),
        password: z
          .string()
          .refine(
            (p) => p === '' || (p.length >= 8 && p.length <= 63),
            'must be empty (open network) or 8 to 63 characters',
          ),
      })
      .strict()
      .optional(),
  })
  .strict();

export type Provisioning = z.infer<typeof ProvisioningSchema>;

export type ProvisioningErrorReason =
  | 'invalid'
  | 'missing'
  | 'unreadable'
  | 'unsupported-version'
  | 'no-nvs-partition';

export class ProvisioningError extends FirmwareFormatError<ProvisioningErrorReason> {
  readonly format = 'provisioning';
  override name = 'ProvisioningError';
}

function check(input: unknown): Provisioning {
  const parsed = ProvisioningSchema.safeParse(input);
  if (!parsed.success) {
    throw new ProvisioningError('invalid', `provisioning ${firstIssue(parsed.error, 'data')}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

export function provisioningItems(input: Provisioning): NvsItem[] {
  const data = check(input);
  const namespace = PROVISIONING_NAMESPACE;
  const items: NvsItem[] = [
    { namespace, key: PROVISIONING_KEYS.version, type: 'u8', value: PROVISIONING_VERSION },
    { namespace, key: PROVISIONING_KEYS.deviceId, type: 'string', value: data.deviceId },
    { namespace, key: PROVISIONING_KEYS.token, type: 'string', value: data.token },
    { namespace, key: PROVISIONING_KEYS.gatewayCount, type: 'u8', value: data.gatewayUrls.length },
    ...data.gatewayUrls.map(
      (url, index): NvsItem => ({
        namespace,
        key: PROVISIONING_KEYS.gatewayUrl(index),
        type: 'string',
        value: url,
      }),
    ),
  ];
  if (data.wifi)
    items.push(
      { namespace, key: PROVISIONING_KEYS.wifiSsid, type: 'string', value: data.wifi.ssid },
      { namespace, key: PROVISIONING_KEYS.wifiPassword, type: 'string', value: data.wifi.password },
    );
  return items;
}

/** An NVS partition image of `sizeBytes` holding the provisioning data (flash it at the `nvs` partition's offset). */
export function buildProvisioningNvs(input: Provisioning, sizeBytes: number = DEFAULT_NVS_SIZE): Uint8Array {
  return buildNvsPartition(provisioningItems(input), sizeBytes);
}

/** Decodes provisioning data from an NVS partition image (other namespaces are ignored). */
export function readProvisioning(nvsBytes: Uint8Array): Provisioning {
  let items: NvsItem[];
  try {
    items = readNvsPartition(nvsBytes).items;
  } catch (error) {
    if (error instanceof NvsFormatError)
      throw new ProvisioningError('unreadable', `the NVS partition is damaged: ${error.message}`, {
        cause: error,
      });
    throw error;
  }
  const values = new Map<string, NvsItem>();
  for (const item of items) if (item.namespace === PROVISIONING_NAMESPACE) values.set(item.key, item);
  if (values.size === 0)
    throw new ProvisioningError('missing', `the NVS partition has no "${PROVISIONING_NAMESPACE}" namespace`);
  const get = (key: string, type: NvsItem['type']) => {
    const item = values.get(key);
    if (!item) throw new ProvisioningError('missing', `provisioning key "${key}" is missing`);
    if (item.type !== type)
      throw new ProvisioningError('invalid', `provisioning key "${key}" is ${item.type}, expected ${type}`);
    return item.value;
  };
  const version = Number(get(PROVISIONING_KEYS.version, 'u8'));
  if (version !== PROVISIONING_VERSION)
    throw new ProvisioningError(
      'unsupported-version',
      `provisioning layout version ${version} is not ${PROVISIONING_VERSION}`,
    );
  const count = Number(get(PROVISIONING_KEYS.gatewayCount, 'u8'));
  const gatewayUrls = Array.from(
    { length: count },
    (_, i) => get(PROVISIONING_KEYS.gatewayUrl(i), 'string') as string,
  );
  const ssid = values.get(PROVISIONING_KEYS.wifiSsid);
  return check({
    gatewayUrls,
    deviceId: get(PROVISIONING_KEYS.deviceId, 'string'),
    token: get(PROVISIONING_KEYS.token, 'string'),
    ...(ssid ? { wifi: { ssid: ssid.value, password: get(PROVISIONING_KEYS.wifiPassword, 'string') } } : {}),
  });
}

/**
 * Provisioning from a whole flash image (a read-flash backup, a simulator's flash): the
 * partition table at `tableOffset` locates the first data/nvs partition, which is decoded.
 */
export function readProvisioningFromFlash(
  flash: Uint8Array,
  tableOffset: number = DEFAULT_TABLE_OFFSET,
): { partition: PartitionEntry; provisioning: Provisioning } {
  let entries: PartitionEntry[];
  try {
    entries = decodePartitionTable(flash.subarray(tableOffset)).entries;
  } catch (error) {
    if (error instanceof PartitionTableError)
      throw new ProvisioningError(
        'no-nvs-partition',
        `no partition table at 0x${tableOffset.toString(16)}: ${error.message}`,
        {
          cause: error,
        },
      );
    throw error;
  }
  const partition = findPartition(entries, { type: 'data', subtype: 'nvs' });
  if (!partition)
    throw new ProvisioningError('no-nvs-partition', 'the partition table has no data/nvs partition');
  if (partition.offset + partition.size > flash.length)
    throw new ProvisioningError(
      'no-nvs-partition',
      `the nvs partition (0x${partition.offset.toString(16)}, ${partition.size} bytes) lies past the end of the ${flash.length}-byte flash`,
    );
  return {
    partition,
    provisioning: readProvisioning(flash.subarray(partition.offset, partition.offset + partition.size)),
  };
}

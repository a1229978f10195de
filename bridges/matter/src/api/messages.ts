// The matter server's WebSocket messages, validated at the wire. Shapes follow
// python-matter-server / matterjs-server (schema 13): a command is
// {message_id, command, args}; the answer {message_id, result} or
// {message_id, error_code, details}; events {event, data}.
import { z } from 'zod';
import { ThreadDataset, WifiCredentials } from '../controller/network-credentials.js';

/** Node ids are 64-bit: JSON numbers that arrive as bigints when beyond 2^53 (see json.ts). */
const nodeId = z
  .union([z.number().int().nonnegative(), z.bigint().nonnegative()])
  .transform((id) => BigInt(id));

export const Envelope = z.object({
  message_id: z.string().min(1),
  command: z.string().min(1),
  // Home Assistant's client sends `"args": null` for commands without arguments
  args: z.record(z.string(), z.unknown()).nullish(),
});

export const CommandArgs = {
  server_info: z.object({}),
  start_listening: z.object({}),
  get_nodes: z.object({ only_available: z.boolean().optional() }),
  get_node: z.object({ node_id: nodeId }),
  commission_with_code: z.object({
    code: z.string().min(1),
    network_only: z.boolean().optional(),
    // our extension: where the device is, for networks where mDNS cannot find it
    ip_addr: z.union([z.ipv4(), z.ipv6()]).optional(),
    port: z.number().int().min(1).max(65535).optional(),
  }),
  device_command: z.object({
    node_id: nodeId,
    endpoint_id: z.number().int().min(0).max(0xfffe),
    cluster_id: z.number().int().min(0),
    command_name: z.string().min(1),
    payload: z.record(z.string(), z.unknown()).nullish(),
    response_type: z.unknown().optional(),
    timed_request_timeout_ms: z.number().int().positive().nullish(),
    interaction_timeout_ms: z.number().int().positive().nullish(),
  }),
  read_attribute: z.object({
    node_id: nodeId,
    attribute_path: z.union([z.string(), z.array(z.string()).min(1)]),
    fabric_filtered: z.boolean().optional(),
  }),
  remove_node: z.object({ node_id: nodeId }),
  ping_node: z.object({ node_id: nodeId, attempts: z.number().int().positive().optional() }),
  commission_on_network: z.object({
    setup_pin_code: z.number().int().min(1).max(99_999_998),
    /** 0 none, 1 short discriminator, 2 long discriminator, 3 vendor id, 4 device type (as none) */
    filter_type: z.number().int().min(0).max(4).optional(),
    filter: z.number().int().nonnegative().nullish(),
    ip_addr: z.union([z.ipv4(), z.ipv6()]).nullish(),
    // our extension, as for commission_with_code: the device's port when it is not 5540
    port: z.number().int().min(1).max(65535).optional(),
  }),
  open_commissioning_window: z.object({
    node_id: nodeId,
    // seconds; the Matter specification allows 180…900 for an enhanced window
    timeout: z.number().int().min(180).max(900).optional(),
    iteration: z.number().int().min(1000).max(100_000).optional(),
    option: z.union([z.literal(0), z.literal(1)]).optional(),
    discriminator: z.number().int().min(0).max(4095).nullish(),
  }),
  write_attribute: z.object({
    node_id: nodeId,
    attribute_path: z.string().min(1),
    value: z.unknown(),
  }),
  interview_node: z.object({ node_id: nodeId }),
  get_node_ip_addresses: z.object({
    node_id: nodeId,
    prefer_cache: z.boolean().optional(),
    scoped: z.boolean().optional(),
  }),
  set_wifi_credentials: WifiCredentials.extend({ id: z.string().min(1).optional() }),
  set_thread_dataset: z.object({ dataset: ThreadDataset, id: z.string().min(1).optional() }),
  get_vendor_names: z.object({
    filter_vendors: z.array(z.number().int().min(0).max(0xffff)).nullish(),
  }),
  diagnostics: z.object({}),
} as const;

export type CommandName = keyof typeof CommandArgs;
export type ArgsOf<C extends CommandName> = z.output<(typeof CommandArgs)[C]>;

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(CommandArgs, name);
}

/** The schema version and the oldest client schema matterjs-server answers with today. */
export const SCHEMA_VERSION = 13;
export const MIN_SUPPORTED_SCHEMA_VERSION = 11;

export interface ServerInfo {
  fabric_id: bigint;
  compressed_fabric_id: bigint;
  fabric_index: number;
  schema_version: number;
  min_supported_schema_version: number;
  sdk_version: string;
  wifi_credentials_set: boolean;
  /** present once Wi-Fi credentials are set, as matterjs-server sends it */
  wifi_ssid?: string;
  thread_credentials_set: boolean;
  bluetooth_enabled: boolean;
}

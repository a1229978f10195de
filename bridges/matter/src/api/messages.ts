// The matter server's WebSocket messages, validated at the wire. Shapes follow
// python-matter-server / matterjs-server (schema 13): a command is
// {message_id, command, args}; the answer {message_id, result} or
// {message_id, error_code, details}; events {event, data}.
import { z } from 'zod';

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
  schema_version: number;
  min_supported_schema_version: number;
  sdk_version: string;
  wifi_credentials_set: boolean;
  thread_credentials_set: boolean;
  bluetooth_enabled: boolean;
}

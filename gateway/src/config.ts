// Gateway options: one table drives validation, --help, and environment names.
// Precedence: defaults < environment (SENTINEL_*) < command-line flags.
import { hostname } from 'node:os';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();

export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Each option: its schema (with default), the env variable, the flag, and a line of help. */
export const GATEWAY_OPTIONS = {
  natsUrl: {
    flag: '--nats <url>',
    env: 'SENTINEL_NATS_URL',
    help: 'external NATS server(s), comma-separated; unset: run an embedded nats-server',
    schema: z.string().min(1).optional(),
  },
  natsCreds: {
    flag: '--nats-creds <file>',
    env: 'SENTINEL_NATS_CREDS',
    help: 'NATS credentials file',
    schema: z.string().min(1).optional(),
  },
  natsPort: {
    flag: '--nats-port <n>',
    env: 'SENTINEL_NATS_PORT',
    help: 'port of the embedded nats-server on 127.0.0.1 (0 = any free port)',
    schema: port.default(4222),
  },
  dataDir: {
    flag: '--data <dir>',
    env: 'SENTINEL_DATA',
    help: 'where the gateway persists local state',
    schema: z.string().min(1).default('./data'),
  },
  mqttPort: {
    flag: '--mqtt-port <n>',
    env: 'SENTINEL_MQTT_PORT',
    help: 'MQTT 3.1.1 over TCP for devices (0 = any free port)',
    schema: port.default(1883),
  },
  httpPort: {
    flag: '--http-port <n>',
    env: 'SENTINEL_HTTP_PORT',
    help: 'HTTP API, web UI, WebSocket /picket and /mqtt (0 = any free port)',
    schema: port.default(8080),
  },
  host: {
    flag: '--host <addr>',
    env: 'SENTINEL_HOST',
    help: 'address the MQTT and HTTP servers listen on',
    schema: z.string().min(1).default('0.0.0.0'),
  },
  nodeId: {
    flag: '--node-id <id>',
    env: 'SENTINEL_NODE_ID',
    help: "this gateway node's id",
    schema: z
      .string()
      .regex(NODE_ID_PATTERN, 'must match [a-z0-9][a-z0-9_-]{0,63}')
      .default(() => defaultNodeId()),
  },
  reconnectGraceMs: {
    flag: '--reconnect-grace <ms>',
    env: 'SENTINEL_RECONNECT_GRACE_MS',
    help: 'after a restart, how long devices this node held may take to reconnect before they count as offline',
    schema: positiveMs.default(30_000),
  },
  commandTimeoutMs: {
    flag: '--command-timeout <ms>',
    env: 'SENTINEL_COMMAND_TIMEOUT_MS',
    help: 'how long a command waits for the device to confirm',
    schema: positiveMs.default(5000),
  },
  deviceRate: {
    flag: '--device-rate <msgs/s>',
    env: 'SENTINEL_DEVICE_RATE',
    help: 'messages per second a device may send before it is throttled (0 = no limit)',
    schema: z.coerce.number().min(0).default(50),
  },
  deviceBurst: {
    flag: '--device-burst <msgs>',
    env: 'SENTINEL_DEVICE_BURST',
    help: 'messages a device may send at once above its rate',
    schema: z.coerce.number().int().positive().default(200),
  },
  maxMessageBytes: {
    flag: '--max-message-bytes <n>',
    env: 'SENTINEL_MAX_MESSAGE_BYTES',
    help: 'largest device message accepted; larger ones are dropped',
    schema: z.coerce.number().int().min(256).default(16384),
  },
  stateFlushMs: {
    flag: '--state-flush <ms>',
    env: 'SENTINEL_STATE_FLUSH_MS',
    help: 'how often the latest states are written to KV sentinel_state',
    schema: positiveMs.default(250),
  },
  historyMaxAge: {
    flag: '--history-max-age <s>',
    env: 'SENTINEL_HISTORY_MAX_AGE_S',
    help: 'how long SENTINEL_HISTORY keeps readings (seconds)',
    schema: z.coerce
      .number()
      .int()
      .positive()
      .default(7 * 24 * 3600),
  },
  historyMaxBytes: {
    flag: '--history-max-bytes <n>',
    env: 'SENTINEL_HISTORY_MAX_BYTES',
    help: 'how large SENTINEL_HISTORY may grow before old readings go',
    schema: z.coerce
      .number()
      .int()
      .positive()
      .default(1024 ** 3),
  },
  logLevel: {
    flag: '--log-level <level>',
    env: 'SENTINEL_LOG_LEVEL',
    help: 'fatal, error, warn, info, debug or trace',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
} as const;

type Options = typeof GATEWAY_OPTIONS;
export type GatewayConfig = { [K in keyof Options]: z.output<Options[K]['schema']> };
export type GatewayConfigInput = { [K in keyof Options]?: z.input<Options[K]['schema']> };

export const GatewayConfigSchema = z.object(
  Object.fromEntries(Object.entries(GATEWAY_OPTIONS).map(([key, option]) => [key, option.schema])) as {
    [K in keyof Options]: Options[K]['schema'];
  },
);

function defaultNodeId(): string {
  const id = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return id.slice(0, 64) || 'gateway';
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Resolves defaults < env < explicit values (flags), with one readable error per bad value. */
export function resolveGatewayConfig(
  explicit: GatewayConfigInput = {},
  env: NodeJS.ProcessEnv = {},
): GatewayConfig {
  const merged: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(GATEWAY_OPTIONS)) {
    const fromFlag = explicit[key as keyof Options];
    merged[key] = fromFlag ?? env[option.env] ?? undefined;
  }
  const parsed = GatewayConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const option = GATEWAY_OPTIONS[issue.path[0] as keyof Options];
    const source =
      explicit[issue.path[0] as keyof Options] !== undefined ? option.flag.split(' ')[0] : option.env;
    throw new ConfigError(`${source}: ${issue.message}`);
  }
  return parsed.data as GatewayConfig;
}

// Gateway options: one table drives validation, --help, and environment names.
// Precedence: defaults < environment (SENTINEL_*) < command-line flags.
import { hostname } from 'node:os';
import { z } from 'zod';
import { lockTimings } from './bus/locks.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();

export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A web address: the gateway's own public one, or Home Assistant's. */
const HttpUrlSchema = z
  .string()
  .refine(
    (url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol),
    'use an http:// or https:// URL',
  );

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
  mqttTlsPort: {
    flag: '--mqtt-tls-port <n>',
    env: 'SENTINEL_MQTT_TLS_PORT',
    help: 'MQTT 3.1.1 over TLS, when TLS is on (0 = any free port)',
    schema: port.default(8883),
  },
  tls: {
    flag: '--tls <mode>',
    env: 'SENTINEL_TLS',
    help: 'off, or auto: TLS for MQTT and HTTPS/WSS with a local CA and server certificate made once under <data>/tls (--tls-cert/--tls-key turn TLS on with your own)',
    schema: z.enum(['off', 'auto']).default('off'),
  },
  tlsCert: {
    flag: '--tls-cert <file>',
    env: 'SENTINEL_TLS_CERT',
    help: 'PEM server certificate (chain) for MQTT over TLS and HTTPS/WSS; needs --tls-key',
    schema: z.string().min(1).optional(),
  },
  tlsKey: {
    flag: '--tls-key <file>',
    env: 'SENTINEL_TLS_KEY',
    help: 'PEM private key of --tls-cert',
    schema: z.string().min(1).optional(),
  },
  publicUrl: {
    flag: '--public-url <url>',
    env: 'SENTINEL_PUBLIC_URL',
    help: 'the URL people open the gateway at (behind a proxy or a DNS name): its host passes the HTTP Host check, its origin the cross-site check, and onboarding links use it',
    schema: HttpUrlSchema.optional(),
  },
  metricsPublic: {
    flag: '--metrics-public',
    env: 'SENTINEL_METRICS_PUBLIC',
    help: 'serve GET /metrics without a token (only where whoever reaches the HTTP port may read them)',
    schema: z
      .preprocess(
        (value) =>
          typeof value === 'string' ? !['', '0', 'false', 'no', 'off'].includes(value.toLowerCase()) : value,
        z.boolean(),
      )
      .default(false),
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
    help: 'how long the devices of a restarted or dead node may take to reconnect (here or on another node) before they count as offline',
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
  lockTtlMs: {
    flag: '--lock-ttl <ms>',
    env: 'SENTINEL_LOCK_TTL_MS',
    help: 'leader lease of single-writer subsystems (same on every node): a crash costs at most TTL + grace',
    schema: positiveMs.min(500).default(15_000),
  },
  lockHeartbeatMs: {
    flag: '--lock-heartbeat <ms>',
    env: 'SENTINEL_LOCK_HEARTBEAT_MS',
    help: 'how often a leader renews its lease (and a node says it is alive)',
    schema: positiveMs.default(5000),
  },
  lockGraceMs: {
    flag: '--lock-grace <ms>',
    env: 'SENTINEL_LOCK_GRACE_MS',
    help: 'allowance past the lock TTL for a standby to take over (it polls five times in it)',
    schema: positiveMs.default(5000),
  },
  bleOfflineMs: {
    flag: '--ble-offline <ms>',
    env: 'SENTINEL_BLE_OFFLINE_MS',
    help: 'a BLE device no proxy has heard for this long (or 5 of its learned advertising intervals, if longer) goes offline',
    schema: positiveMs.default(60_000),
  },
  haMqtt: {
    flag: '--ha-mqtt <url>',
    env: 'SENTINEL_HA_MQTT',
    help: "Home Assistant's MQTT broker (mqtt://, mqtts://, ws://, wss://): every entity published there with MQTT discovery, commands taken back; unset: off",
    schema: z
      .string()
      .refine(
        (url) => URL.canParse(url) && /^(mqtts?|wss?):$/.test(new URL(url).protocol),
        'use an mqtt://, mqtts://, ws:// or wss:// URL',
      )
      .optional(),
  },
  haMqttUsername: {
    flag: '--ha-mqtt-username <name>',
    env: 'SENTINEL_HA_MQTT_USERNAME',
    help: 'user name on the Home Assistant broker',
    schema: z.string().min(1).optional(),
  },
  haMqttPassword: {
    flag: '--ha-mqtt-password <password>',
    env: 'SENTINEL_HA_MQTT_PASSWORD',
    help: 'password on the Home Assistant broker (prefer the variable: a flag shows in the process list)',
    schema: z.string().min(1).optional(),
  },
  haMqttCa: {
    flag: '--ha-mqtt-ca <file>',
    env: 'SENTINEL_HA_MQTT_CA',
    help: "PEM CA certificate(s) the Home Assistant broker's certificate must chain to (mqtts://, wss://; default: the system's)",
    schema: z.string().min(1).optional(),
  },
  haMqttCert: {
    flag: '--ha-mqtt-cert <file>',
    env: 'SENTINEL_HA_MQTT_CERT',
    help: 'PEM client certificate for the Home Assistant broker; needs --ha-mqtt-key',
    schema: z.string().min(1).optional(),
  },
  haMqttKey: {
    flag: '--ha-mqtt-key <file>',
    env: 'SENTINEL_HA_MQTT_KEY',
    help: 'PEM private key of --ha-mqtt-cert',
    schema: z.string().min(1).optional(),
  },
  haDiscoveryPrefix: {
    flag: '--ha-discovery-prefix <prefix>',
    env: 'SENTINEL_HA_DISCOVERY_PREFIX',
    help: "Home Assistant's MQTT discovery prefix",
    schema: z
      .string()
      .regex(/^[^#+\s]+$/, 'an MQTT topic level without wildcards')
      .default('homeassistant'),
  },
  haUrl: {
    flag: '--ha-url <url>',
    env: 'SENTINEL_HA_URL',
    help: "Home Assistant's URL (http:// or https://): its entities imported over its WebSocket API (needs --ha-token or --ha-token-file); unset: off",
    schema: HttpUrlSchema.optional(),
  },
  haToken: {
    flag: '--ha-token <token>',
    env: 'SENTINEL_HA_TOKEN',
    help: 'a Home Assistant long-lived access token (prefer the variable or --ha-token-file: a flag shows in the process list)',
    schema: z.string().min(1).optional(),
  },
  haTokenFile: {
    flag: '--ha-token-file <file>',
    env: 'SENTINEL_HA_TOKEN_FILE',
    help: 'a file holding the Home Assistant access token',
    schema: z.string().min(1).optional(),
  },
  haInclude: {
    flag: '--ha-include <patterns>',
    env: 'SENTINEL_HA_INCLUDE',
    help: 'Home Assistant entities to import, comma-separated: domains (light), entity id globs (sensor.*_temperature), areas (area:kitchen); unset: all',
    schema: z.string().min(1).optional(),
  },
  haExclude: {
    flag: '--ha-exclude <patterns>',
    env: 'SENTINEL_HA_EXCLUDE',
    help: 'Home Assistant entities not to import (same patterns as --ha-include)',
    schema: z.string().min(1).optional(),
  },
  matterUrl: {
    flag: '--matter-url <urls>',
    env: 'SENTINEL_MATTER_URL',
    help: 'matter server WebSocket API(s) (ws://host:5580/ws), comma-separated: Matter nodes become devices matter-<node id>, through whichever answers; unset: off',
    schema: z
      .string()
      .refine(
        (list) =>
          list
            .split(',')
            .every((url) => URL.canParse(url.trim()) && /^wss?:$/.test(new URL(url.trim()).protocol)),
        'use ws:// or wss:// URLs, comma-separated',
      )
      .optional(),
  },
  natsReplicas: {
    flag: '--nats-replicas <n>',
    env: 'SENTINEL_NATS_REPLICAS',
    help: 'replicas of new KV buckets and streams (0 = 3 when the NATS cluster has 3 or more servers, else 1)',
    schema: z.coerce.number().int().min(0).max(5).default(0),
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
  const config = parsed.data as GatewayConfig;
  checkTlsOptions(config, explicit);
  if ((config.haMqttCert === undefined) !== (config.haMqttKey === undefined)) {
    const given = config.haMqttCert === undefined ? 'haMqttKey' : 'haMqttCert';
    const source =
      explicit[given] !== undefined ? GATEWAY_OPTIONS[given].flag.split(' ')[0] : GATEWAY_OPTIONS[given].env;
    throw new ConfigError(`${source}: --ha-mqtt-cert and --ha-mqtt-key go together: give both, or neither`);
  }
  if (config.haUrl !== undefined && config.haToken === undefined && config.haTokenFile === undefined) {
    const source = explicit.haUrl !== undefined ? '--ha-url' : GATEWAY_OPTIONS.haUrl.env;
    throw new ConfigError(`${source}: needs --ha-token or --ha-token-file (or their variables)`);
  }
  try {
    lockTimings({
      ttlMs: config.lockTtlMs,
      heartbeatMs: config.lockHeartbeatMs,
      graceMs: config.lockGraceMs,
    });
  } catch (error) {
    // the lease settings only make sense together: a heartbeat must fit twice before the step-down
    throw new ConfigError(`--lock-heartbeat: ${(error as Error).message}`, { cause: error });
  }
  return config;
}

/**
 * TLS options that cannot work together, refused here with the other bad options
 * (exit 2 in the CLI) rather than when the gateway starts; the same rules stay in
 * loadTls for library callers.
 */
function checkTlsOptions(config: GatewayConfig, explicit: GatewayConfigInput): void {
  const name = (key: 'tls' | 'tlsCert' | 'tlsKey') =>
    explicit[key] !== undefined ? GATEWAY_OPTIONS[key].flag.split(' ')[0] : GATEWAY_OPTIONS[key].env;
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    const given = config.tlsCert === undefined ? 'tlsKey' : 'tlsCert';
    throw new ConfigError(`${name(given)}: --tls-cert and --tls-key go together: give both, or neither`);
  }
  if (config.tlsCert !== undefined && config.tls === 'auto')
    throw new ConfigError(
      `${name('tls')}: auto generates certificates; leave it out when giving --tls-cert/--tls-key`,
    );
}

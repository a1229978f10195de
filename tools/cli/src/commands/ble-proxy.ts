// `sentinel ble-proxy`: a BLE proxy node (bridges/ble-proxy). noble scans the
// host's HCI adapter, or with --simulate a scenario file's simulated sensors
// through the simulated noble bindings (tests, demos), with the same proxy code.
import { readFile } from 'node:fs/promises';
import {
  BleProxy,
  connectProxy,
  createNoble,
  createProxyLogger,
  type Logger,
  PROXY_DEFAULTS,
} from '@sentinel/ble-proxy';
import { ProxyIdSchema } from '@sentinel/protocol';
import type { BleAir, BleScenario } from '@sentinel/simulators';
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { CliError, UsageError } from '../errors.js';
import { untilSignal } from '../signals.js';

// the simulated radio only with --simulate: a proxy on a Pi never loads the simulators
const simulators = () => import('@sentinel/simulators');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const ProxyFlagsSchema = z.object({
  nats: z.string().min(1, 'is required'),
  natsCreds: z.string().optional(),
  id: ProxyIdSchema,
  slots: int(0, 16),
  batchMax: int(1, 1000),
  batchMs: int(10, 10_000),
  buffer: int(1, 1_000_000),
  statusInterval: int(100, 600_000),
  hci: int(0, 15).optional(),
  simulate: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});

function parseFlags(flags: Record<string, unknown>) {
  const parsed = ProxyFlagsSchema.safeParse(flags);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = `--${String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new UsageError(`${flag}: ${issue.message}`);
  }
  return parsed.data;
}

/** Reads and checks a scenario file; errors name the file and the field. */
export async function loadScenario(file: string): Promise<BleScenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read scenario ${file}: ${(error as Error).message}`, { cause: error });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UsageError(`scenario ${file} is not JSON`);
  }
  const { BleScenarioSchema } = await simulators();
  const parsed = BleScenarioSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`scenario ${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

export interface RunningProxy {
  proxy: BleProxy;
  stop(): Promise<void>;
  /** as a crash: the connection goes first, so no last status is sent */
  kill(): Promise<void>;
}

/** Starts one proxy over NATS: on the host's adapter, or on a simulated air. */
export async function runProxy(options: {
  id: string;
  nats: string;
  natsCreds?: string | undefined;
  log: Logger;
  air?: BleAir | undefined;
  hci?: number | undefined;
  slots?: number;
  batchMax?: number;
  batchMs?: number;
  bufferCapacity?: number;
  statusIntervalMs?: number;
}): Promise<RunningProxy> {
  const nc = await connectProxy({
    servers: options.nats,
    credsFile: options.natsCreds,
    name: `sentinel-ble-proxy-${options.id}`,
  }).catch((error: unknown) => {
    throw new CliError((error as Error).message, { cause: error });
  });
  const noble = options.air
    ? createNoble(new (await simulators()).SimulatedNobleBindings(options.air, { listenerId: options.id }))
    : createNoble(undefined, { deviceId: options.hci });
  const proxy = new BleProxy({
    id: options.id,
    nc,
    noble,
    log: options.log,
    ...(options.slots === undefined ? {} : { slots: options.slots }),
    ...(options.batchMax === undefined ? {} : { batchMax: options.batchMax }),
    ...(options.batchMs === undefined ? {} : { batchMs: options.batchMs }),
    ...(options.bufferCapacity === undefined ? {} : { bufferCapacity: options.bufferCapacity }),
    ...(options.statusIntervalMs === undefined ? {} : { statusIntervalMs: options.statusIntervalMs }),
  });
  proxy.start();
  return {
    proxy,
    async stop() {
      await proxy.stop();
      await nc.drain().catch(() => undefined);
    },
    async kill() {
      await nc.close();
      await proxy.stop();
    },
  };
}

export function registerBleProxyCommand(program: Command): void {
  program
    .command('ble-proxy')
    .description(
      'run a BLE proxy node: raw advertisements and GATT over NATS (sentinel.ble.proxy.<id>.…); runs until SIGTERM',
    )
    .addOption(new Option('--nats <url>', 'NATS server(s), comma-separated').env('SENTINEL_NATS_URL'))
    .addOption(new Option('--nats-creds <file>', 'NATS credentials file').env('SENTINEL_NATS_CREDS'))
    .addOption(
      new Option('--id <proxy id>', 'this proxy’s id ([a-z0-9][a-z0-9_-]{0,31})').env(
        'SENTINEL_BLE_PROXY_ID',
      ),
    )
    .option('--slots <n>', 'GATT connection slots', String(PROXY_DEFAULTS.slots))
    .option('--batch-max <n>', 'advertisements per batch at most', String(PROXY_DEFAULTS.batchMax))
    .option('--batch-ms <ms>', 'send a batch at least this often', String(PROXY_DEFAULTS.batchMs))
    .option(
      '--buffer <n>',
      'advertisements kept while NATS is unreachable (oldest dropped)',
      String(PROXY_DEFAULTS.bufferCapacity),
    )
    .option('--status-interval <ms>', 'status heartbeat interval', String(PROXY_DEFAULTS.statusIntervalMs))
    .option('--hci <n>', 'HCI adapter number (/dev/hci<n>; default 0)')
    .option(
      '--simulate <scenario.json>',
      'use simulated sensors from a scenario file instead of the radio (tests, demos)',
    )
    .addOption(new Option('--log-level <level>', 'log level').default('info').env('SENTINEL_LOG_LEVEL'))
    .action(async (flags: Record<string, unknown>) => {
      const o = parseFlags({ ...flags, nats: flags.nats ?? '' });
      const log = createProxyLogger(o.logLevel);
      let air: BleAir | undefined;
      if (o.simulate) {
        air = (await simulators()).scenarioAir(await loadScenario(o.simulate));
        air.start();
      }
      const running = await runProxy({
        id: o.id,
        nats: o.nats,
        natsCreds: o.natsCreds,
        log,
        air,
        hci: o.hci,
        slots: o.slots,
        batchMax: o.batchMax,
        batchMs: o.batchMs,
        bufferCapacity: o.buffer,
        statusIntervalMs: o.statusInterval,
      });
      process.stdout.write(
        `${JSON.stringify({ event: 'ready', proxy: o.id, simulated: air !== undefined })}\n`,
      );
      await untilSignal();
      air?.stop();
      await running.stop();
    });
}

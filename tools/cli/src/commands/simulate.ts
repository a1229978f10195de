// `sentinel simulate …`: simulated devices for tests, demos and load runs.
// `simulate` is only a parent; each kind of device is one subcommand.
import { readFile } from 'node:fs/promises';
import { DeviceExistsError, openGatewayStore } from '@sentinel/gateway/store';
import {
  type DeviceCredentials,
  type DeviceProblem,
  type FleetSummary,
  PicketFleet,
  parsePicketCredentials,
  picketFleetIds,
  picketIdOf,
  resolveGatewayEndpoint,
  SimulatorOptionsError,
} from '@sentinel/simulators';
import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, UsageError } from '../errors.js';
import { addGatewayOptions, gatewayOptionValues, STORE_OPTIONS } from './options.js';
import { registerBleSimulator } from './simulate-ble.js';
import { registerEspRomSimulator } from './simulate-esp-rom.js';
import { registerMatterSimulator } from './simulate-matter.js';

export function registerSimulateCommands(program: Command): void {
  const simulate = program
    .command('simulate')
    .description('run simulated devices against a gateway (tests, demos, load)');
  registerSimulatePicket(simulate);
  registerEspRomSimulator(simulate);
  registerBleSimulator(simulate);
  registerMatterSimulator(simulate);
}

// ---------------------------------------------------------------------------
// simulate picket

/** Options after validation; what runPicketSimulation needs. */
export interface PicketSimulation {
  /** one gateway URL, or the nodes of a cluster: each device fails over between them */
  gateway: string | readonly string[];
  devices: DeviceCredentials[];
  intervalMs: number;
  qos: 0 | 1;
  rampUpMs: number;
}

export interface SimulationIo {
  /** progress and problems, one line each (stderr in the CLI) */
  log(line: string): void;
  /** stops the run (SIGINT/SIGTERM in the CLI) */
  signal: AbortSignal;
}

const FLAGS = {
  gateway: '--gateway',
  count: '--count',
  idPrefix: '--id-prefix',
  interval: '--interval',
  qos: '--qos',
  credentials: '--credentials',
  register: '--register',
  rampUp: '--ramp-up',
} as const;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const RawPicketOptionsSchema = z.object({
  gateway: z
    .string()
    .transform((list) =>
      list
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string()).min(1, 'give at least one gateway URL')),
  count: int(1, 10_000).optional(),
  idPrefix: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]{0,40}$/,
      'must be lower-case letters, digits, - or _ (at most 41 characters)',
    ),
  interval: int(100, 86_400_000),
  qos: z.enum(['0', '1'], 'must be 0 or 1').transform((q) => (q === '1' ? 1 : 0)),
  credentials: z.string().min(1).optional(),
  register: z.boolean().optional(),
  rampUp: int(0, 600_000).optional(),
});
/** the validated flags, plus everything commander parsed (the store options go to gatewayOptionValues) */
type RawPicketOptions = z.output<typeof RawPicketOptionsSchema> & { flags: Record<string, unknown> };

function registerSimulatePicket(simulate: Command): void {
  const picket = simulate
    .command('picket')
    .description(
      'run N simulated picket devices (temperature, humidity, a relay) against a gateway until SIGINT/SIGTERM; ' +
        'progress goes to stderr',
    )
    .requiredOption(
      '--gateway <url>',
      'where to connect: mqtt://host:1883 (MQTT), ws://host:8080/mqtt (MQTT over WebSocket) or ' +
        'ws://host:8080/picket (picket WebSocket protocol); several comma-separated URLs (the nodes of a ' +
        'cluster): each device connects to the first that answers and fails over to the next when it goes away',
    )
    .option(
      '--count <n>',
      'how many devices, named <prefix>-1 … <prefix>-<n> (default with --credentials: every device in the file)',
    )
    .option('--id-prefix <prefix>', 'device ids are <prefix>-<n>', 'sim')
    .option('--interval <ms>', 'time between state messages of each device', '5000')
    .option(
      '--qos <0|1>',
      'QoS of state messages: 1 keeps each reading until the gateway confirms it and resends it after a reconnect; ' +
        '0 sends and forgets',
      '1',
    )
    .option(
      '--credentials <file>',
      'JSON lines {"device_id":"picket-<id>","token":"…"} as printed by `sentinel device add <id>`',
    )
    .option(
      '--register',
      'register the devices in the gateway store first (needs --count) and print their credentials to stdout, ' +
        'ready for --credentials next time',
    )
    .option(
      '--ramp-up <ms>',
      'spread the first connections over this long (default: 20 ms per device, at most 5 s)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  sentinel device add sim-1 >> creds.jsonl\n' +
        '  sentinel simulate picket --gateway mqtt://127.0.0.1:1883 --credentials creds.jsonl\n' +
        '  sentinel simulate picket --gateway ws://127.0.0.1:8080/picket --count 50 --register > creds.jsonl\n' +
        '  sentinel simulate picket --gateway mqtt://node-a:1883,mqtt://node-b:1883 --credentials creds.jsonl\n' +
        '\n--nats, --nats-creds and --data matter only with --register: they find the gateway store, as for\n' +
        '`sentinel device add`.\n',
    );
  addGatewayOptions(picket, STORE_OPTIONS).action(async (raw: Record<string, unknown>) => {
    const options = parseRawOptions(raw);
    const devices = await chooseDevices(options);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    // once: a second Ctrl-C while stopping falls through to Node's default and quits at once
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await runPicketSimulation(toSimulation(options, devices), {
        log: (line) => process.stderr.write(`${line}\n`),
        signal: stop.signal,
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

function parseRawOptions(raw: Record<string, unknown>): RawPicketOptions {
  const parsed = RawPicketOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]) as keyof typeof FLAGS;
    throw new UsageError(`${FLAGS[key] ?? `--${key}`}: ${issue.message}`);
  }
  const options = { ...parsed.data, flags: raw };
  try {
    for (const url of options.gateway) resolveGatewayEndpoint(url);
  } catch (error) {
    if (error instanceof SimulatorOptionsError)
      throw new UsageError(`--gateway: ${error.message}`, { cause: error });
    throw error;
  }
  if (options.register && options.credentials) {
    throw new UsageError(
      '--register and --credentials exclude each other (save what --register prints instead)',
    );
  }
  if (!options.register && !options.credentials) {
    throw new UsageError('say how the devices authenticate: --credentials <file> or --register');
  }
  if (options.register && options.count === undefined) throw new UsageError('--register needs --count <n>');
  return options;
}

function toSimulation(options: RawPicketOptions, devices: DeviceCredentials[]): PicketSimulation {
  return {
    gateway: options.gateway,
    devices,
    intervalMs: options.interval,
    qos: options.qos,
    rampUpMs: options.rampUp ?? Math.min(5000, 20 * devices.length),
  };
}

async function chooseDevices(options: RawPicketOptions): Promise<DeviceCredentials[]> {
  if (options.register) return registerDevices(picketFleetIds(options.idPrefix, options.count!), options);
  const file = options.credentials!;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new CliError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  let known: DeviceCredentials[];
  try {
    known = parsePicketCredentials(text, file);
  } catch (cause) {
    if (cause instanceof SimulatorOptionsError)
      throw new UsageError(`--credentials: ${cause.message}`, { cause });
    throw cause;
  }
  if (options.count === undefined) {
    if (known.length === 0) throw new UsageError(`--credentials: ${file} lists no devices`);
    return known;
  }
  const tokens = new Map(known.map((d) => [d.id, d.token]));
  const ids = picketFleetIds(options.idPrefix, options.count);
  const missing = ids.filter((id) => !tokens.has(id));
  if (missing.length > 0) {
    const shown =
      missing.slice(0, 3).join(', ') + (missing.length > 3 ? ` and ${missing.length - 3} more` : '');
    throw new UsageError(
      `--credentials: ${file} has no token for ${shown} (add with: sentinel device add ${missing[0]} >> ${file}, ` +
        'or use --register)',
    );
  }
  return ids.map((id) => ({ id, token: tokens.get(id)! }));
}

async function registerDevices(ids: string[], options: RawPicketOptions): Promise<DeviceCredentials[]> {
  let store: Awaited<ReturnType<typeof openGatewayStore>>;
  try {
    const { natsUrl, natsCreds, dataDir } = gatewayOptionValues(options.flags, STORE_OPTIONS);
    store = await openGatewayStore({ natsUrl, natsCreds, dataDir });
  } catch (cause) {
    throw new CliError(`cannot reach the gateway store: ${(cause as Error).message}`, { cause });
  }
  const devices: DeviceCredentials[] = [];
  try {
    for (const id of ids) {
      const { device_id, token } = await store.addDevice(id).catch((cause: unknown) => {
        if (cause instanceof DeviceExistsError) {
          throw new CliError(
            `${id} is already registered and its token cannot be shown again; use the credentials an earlier ` +
              '--register printed (--credentials <file>), another --id-prefix, or `sentinel device remove` first',
            { cause },
          );
        }
        throw new CliError(`registering ${id}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
      });
      if (picketIdOf(device_id) !== id) {
        throw new CliError(`registering ${id}: the store answered with device id ${device_id}`);
      }
      // the same line `sentinel device add` prints, so the output works as a --credentials file
      process.stdout.write(`${JSON.stringify({ device_id, token })}\n`);
      devices.push({ id, token });
    }
  } finally {
    await store.close();
  }
  return devices;
}

/** Runs the fleet until `io.signal` aborts, reporting progress; resolves after a clean stop. */
export async function runPicketSimulation(
  simulation: PicketSimulation,
  io: SimulationIo,
): Promise<FleetSummary> {
  let fleet: PicketFleet;
  try {
    fleet = new PicketFleet({
      gateway: simulation.gateway,
      devices: simulation.devices,
      intervalMs: simulation.intervalMs,
      qos: simulation.qos,
      rampUpMs: simulation.rampUpMs,
    });
  } catch (cause) {
    if (cause instanceof SimulatorOptionsError) throw new UsageError(cause.message, { cause });
    throw cause;
  }
  const reporter = new FleetReporter(fleet, io.log);
  io.log(
    `simulate: ${simulation.devices.length} picket device(s) → ${[simulation.gateway].flat().join(', ')}, ` +
      `a state every ${simulation.intervalMs} ms at QoS ${simulation.qos}; Ctrl-C stops`,
  );
  if (!io.signal.aborted) {
    const stopped = new Promise<void>((resolve) =>
      io.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    fleet.start();
    await stopped;
  }
  io.log('simulate: stopping…');
  await fleet.stop();
  reporter.close();
  const summary = fleet.summary();
  io.log(`simulate: stopped; ${summarise(summary)}`);
  return summary;
}

function summarise(s: FleetSummary): string {
  const resent = s.resent > 0 ? ` (${s.resent} resent)` : '';
  const dropped = s.dropped > 0 ? `, ${s.dropped} dropped` : '';
  return `${s.connected}/${s.devices} connected, ${s.sent} readings sent${resent}, ${s.acked} acked${dropped}, ${s.commands} commands handled`;
}

/**
 * Turns fleet events into a few readable lines: the summary when it changed (at most
 * once a second), and each distinct problem at most every ten seconds, so a fleet
 * of hundreds retrying against a dead gateway prints one line, not hundreds.
 */
class FleetReporter {
  static readonly LINE_GAP_MS = 1000;
  static readonly PROBLEM_GAP_MS = 10_000;

  #lastLine = '';
  #lastAt = 0;
  #trailing: NodeJS.Timeout | undefined;
  readonly #problemPrintedAt = new Map<string, number>();
  readonly #onChange = () => this.#changed();
  readonly #onProblem = (event: { id: string; problem: DeviceProblem }) => this.#problem(event);

  constructor(
    private readonly fleet: PicketFleet,
    private readonly log: (line: string) => void,
  ) {
    fleet.on('change', this.#onChange);
    fleet.on('problem', this.#onProblem);
    fleet.on('connected', this.#onConnected);
  }

  close(): void {
    clearTimeout(this.#trailing);
    this.fleet.off('change', this.#onChange);
    this.fleet.off('problem', this.#onProblem);
    this.fleet.off('connected', this.#onConnected);
  }

  // once a device gets through, the next failure is news again
  readonly #onConnected = () => this.#problemPrintedAt.clear();

  #changed(): void {
    if (this.#trailing) return;
    const wait = this.#lastAt + FleetReporter.LINE_GAP_MS - Date.now();
    if (wait <= 0) this.#print();
    else this.#trailing = setTimeout(() => this.#print(), wait);
  }

  #print(): void {
    this.#trailing = undefined;
    const line = `simulate: ${summarise(this.fleet.summary())}`;
    if (line === this.#lastLine) return;
    this.#lastLine = line;
    this.#lastAt = Date.now();
    this.log(line);
  }

  #problem({ id, problem }: { id: string; problem: DeviceProblem }): void {
    // one key per kind of trouble; a full buffer is one kind whatever the seq
    const key = problem.code === 'reading_dropped' ? problem.code : `${problem.code} ${problem.message}`;
    const last = this.#problemPrintedAt.get(key);
    if (last !== undefined && Date.now() - last < FleetReporter.PROBLEM_GAP_MS) return;
    this.#problemPrintedAt.set(key, Date.now());
    this.log(`simulate: ${id}: ${explain(problem)}`);
  }
}

function explain(problem: DeviceProblem): string {
  switch (problem.code) {
    case 'unreachable':
      return `cannot reach the gateway (${problem.message}); retrying with backoff`;
    case 'refused':
      return `the gateway refused the device's credentials (${problem.message}); retrying with backoff`;
    case 'subscribe_refused':
      return `${problem.message}; commands will not arrive`;
    case 'bad_frame':
      return `ignored a malformed message from the gateway: ${problem.message}`;
    case 'gateway_error':
      return `the gateway dropped a message: ${problem.reason}: ${problem.message}`;
    case 'reading_dropped':
      return `unconfirmed readings overflow the buffer; the oldest are dropped (${problem.message})`;
  }
}

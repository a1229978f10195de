// `sentinel simulate matter`: one simulated Matter device (the matter.js simulator in
// @sentinel/simulators) on 127.0.0.1/::1 until SIGINT/SIGTERM, for pairing tests and demos.
// It prints its pairing codes as one JSON line, so a script can hand them to a controller.
import { createInterface } from 'node:readline';
import type { SimulatedMatterDeviceType } from '@sentinel/simulators/matter';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { untilSignal } from '../signals.js';

// matter.js takes seconds to load: only `simulate matter` itself imports it, so the help
// and the other simulators stay quick. The list is checked against the simulator's type.
const DEVICE_TYPES = [
  'on-off-light',
  'on-off-plug',
  'dimmable-light',
  'contact-sensor',
  'temperature-sensor',
] as const satisfies readonly SimulatedMatterDeviceType[];

/** Matter Core spec 5.1.7.1: passcodes are 1…99999998, minus these easily guessed ones. */
const MAX_PASSCODE = 99_999_998;
const TRIVIAL_PASSCODES = new Set([
  0, 11111111, 22222222, 33333333, 44444444, 55555555, 66666666, 77777777, 88888888, 99999999, 12345678,
  87654321,
]);
const MAX_DISCRIMINATOR = 4095;

export interface MatterSimulation {
  type: SimulatedMatterDeviceType;
  passcode: number;
  discriminator: number;
  /** undefined: a free UDP port */
  port: number | undefined;
  /** false: every interface, advertised by mDNS (default: loopback only) */
  loopbackOnly?: boolean;
}

function integer(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text))
    throw new UsageError(`${flag}: must be a whole number, got ${JSON.stringify(text)}`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError(`${flag}: must be ${min}…${max}, got ${value}`);
  return value;
}

/** The flags as commander hands them over, checked; every problem is a UsageError (exit 2). */
export function parseMatterSimulation(flags: {
  type: string;
  passcode: string;
  discriminator: string;
  port?: string;
  network?: string;
}): MatterSimulation {
  if (!(DEVICE_TYPES as readonly string[]).includes(flags.type)) {
    throw new UsageError(
      `--type: unknown device type ${JSON.stringify(flags.type)}; use one of ${DEVICE_TYPES.join(', ')}`,
    );
  }
  const passcode = integer('--passcode', flags.passcode, 1, MAX_PASSCODE);
  if (TRIVIAL_PASSCODES.has(passcode)) {
    throw new UsageError(
      `--passcode: ${passcode} is one of the trivial passcodes the Matter specification forbids; pick another 8-digit number`,
    );
  }
  const discriminator = integer('--discriminator', flags.discriminator, 0, MAX_DISCRIMINATOR);
  const port = flags.port === undefined ? 0 : integer('--port', flags.port, 0, 65535);
  const network = flags.network ?? 'loopback';
  if (network !== 'loopback' && network !== 'any')
    throw new UsageError(`--network: loopback or any, got ${JSON.stringify(network)}`);
  return {
    type: flags.type as SimulatedMatterDeviceType,
    passcode,
    discriminator,
    port: port || undefined,
    // omitted on loopback, the simulator's default
    ...(network === 'any' ? { loopbackOnly: false } : {}),
  };
}

export function registerMatterSimulator(simulate: Command): void {
  simulate
    .command('matter')
    .description(
      'run one simulated Matter device on 127.0.0.1/::1 until SIGINT/SIGTERM; prints its pairing codes as a JSON line',
    )
    .requiredOption('--type <type>', `the device: ${DEVICE_TYPES.join(', ')}`)
    .requiredOption(
      '--passcode <n>',
      `the setup passcode, 1…${MAX_PASSCODE} (not a trivial one like 12345678)`,
    )
    .requiredOption('--discriminator <n>', `the discriminator, 0…${MAX_DISCRIMINATOR}`)
    .option('--port <n>', 'its Matter UDP port (default: a free one)')
    .option(
      '--network <where>',
      'loopback: 127.0.0.1/::1, no mDNS; any: every interface, advertised by mDNS',
      'loopback',
    )
    .addHelpText(
      'after',
      '\nThe device keeps its state in memory: every start is factory-fresh. On loopback it advertises\n' +
        'nothing (no mDNS); commission it at the printed address, e.g. with the matter server API\n' +
        '`commission_with_code` and its `ip_addr`/`port` extension.\n' +
        'Lines on stdin: `on`/`off` switch it as its own button would; `state` prints\n' +
        '{"event":"state","on":…,"level":…,"fabrics":…} (after an `on`/`off`: the new state).\n\n' +
        'Example:\n' +
        '  sentinel simulate matter --type on-off-light --passcode 20202021 --discriminator 3840\n',
    )
    .action(
      async (flags: {
        type: string;
        passcode: string;
        discriminator: string;
        port?: string;
        network?: string;
      }) => {
        const options = parseMatterSimulation(flags);
        // listen first: a signal during the start must still stop the device
        const signalled = untilSignal();
        const { startSimulatedMatterDevice } = await import('@sentinel/simulators/matter');
        const device = await startSimulatedMatterDevice(options);
        process.stdout.write(
          `${JSON.stringify({
            event: 'ready',
            type: device.type,
            manual_pairing_code: device.manualPairingCode,
            qr_payload: device.qrPairingCode,
            host: device.host,
            port: device.port,
            endpoint: device.endpoint,
            passcode: device.passcode,
            discriminator: device.discriminator,
          })}\n`,
        );
        process.stderr.write(
          `simulate matter: ${device.type} at ${device.host ?? '*'}:${device.port}; Ctrl-C stops\n`,
        );
        // scripts and tests look at the device through stdin/stdout, never through its fabric
        const lines = createInterface({ input: process.stdin, terminal: false });
        // one line after the other: a `state` after an `on` reports the light on
        let queue = Promise.resolve();
        lines.on('line', (line) => {
          const word = line.trim();
          if (word !== 'on' && word !== 'off' && word !== 'state') return;
          queue = queue
            .then(async () => {
              // `on`/`off`: a change made on the device itself (its button), reported to subscribers
              if (word !== 'state') await device.setOn(word === 'on');
              const [on, level, fabrics] = await Promise.all([
                device.isOn(),
                device.level(),
                device.fabricCount(),
              ]);
              process.stdout.write(`${JSON.stringify({ event: 'state', on, level, fabrics })}\n`);
            })
            .catch((error: Error) => {
              process.stderr.write(`simulate matter: ${word}: ${error.message}\n`);
            });
        });
        await signalled;
        lines.close();
        await device.stop();
      },
    );
}

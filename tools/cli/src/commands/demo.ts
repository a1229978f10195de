// `sentinel demo` (npm run demo): a gateway with a few simulated picket devices,
// over both transports, and where to look.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  embeddedAuthDir,
  type Gateway,
  openGatewayStore,
  resolveGatewayConfig,
  startGateway,
} from '@sentinel/gateway';
import { PicketFleet } from '@sentinel/simulators';
import type { Command } from 'commander';
import { captureLauncher, type Launcher } from '../launcher.js';
import { addGatewayOptions, gatewayFlagValues } from './options.js';

const DEMO_DEVICES = {
  mqtt: ['demo-kitchen', 'demo-hall'],
  ws: ['demo-porch'],
};

export function registerDemoCommand(program: Command): void {
  addGatewayOptions(
    program
      .command('demo')
      .description('run a gateway with three simulated devices (two over MQTT, one over WebSocket)')
      .addHelpText(
        'after',
        '\nThe demo leaves nothing behind when Ctrl-C or SIGTERM stops it: it removes the devices it\n' +
          'added (demo-kitchen, demo-hall, demo-porch) from the store, and without --data (or\n' +
          'SENTINEL_DATA) it keeps its local state (the embedded NATS store included) in a throwaway\n' +
          'directory under the system temp dir, deleted when it stops; ./data is never touched.',
      ),
  ).action(async (_flags: unknown, self: Command) => {
    // first thing: a signal during start-up may orphan us before we look
    const launcher = captureLauncher();
    // a demo must not leave its devices in the user's ./data: its own store, unless one is named
    const throwaway =
      self.getOptionValue('data') === undefined ? await mkdtemp(join(tmpdir(), 'sentinel-demo-')) : undefined;
    try {
      await runDemo(self, throwaway, launcher);
    } finally {
      if (throwaway) await rm(throwaway, { recursive: true, force: true });
    }
  });
}

async function runDemo(self: Command, throwaway: string | undefined, launcher: Launcher): Promise<void> {
  const config = resolveGatewayConfig(
    { logLevel: 'warn', ...gatewayFlagValues(self), ...(throwaway ? { dataDir: throwaway } : {}) },
    process.env,
  );
  const gateway = await startGateway(config);
  const fleets = await startFleets(gateway);
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  // local commands find the embedded server, and its credential, from the data directory
  const busOption = config.natsUrl ? `--nats ${gateway.natsUrl}` : `--data ${config.dataDir}`;
  process.stdout.write(
    [
      '',
      'Sentinel Edge demo is running: 3 simulated devices report every 2 s.',
      `  web UI         http://${host}:${gateway.httpPort}/`,
      gateway.onboardingUrl
        ? `  first log-in   ${gateway.onboardingUrl}   (one-time link: set the admin password)`
        : '  log in         with your account (npx sentinel user add <name> --role admin makes one)',
      `  metrics        http://${host}:${gateway.httpPort}/metrics   (with an API token: npx sentinel token create --role viewer)`,
      `  NATS           ${gateway.natsUrl}   (readings on sentinel.state.>)`,
      ...(config.natsUrl
        ? []
        : [
            `  NATS accounts  ${embeddedAuthDir(config.dataDir)}   (locked: a client needs a creds file from there)`,
          ]),
      `  watch the bus  npx sentinel watch ${busOption}`,
      `  MQTT devices   mqtt://${host}:${gateway.mqttPort}   WebSocket devices ws://${host}:${gateway.httpPort}/picket`,
      throwaway
        ? `  data           ${throwaway}   (throwaway, removed when the demo stops)`
        : `  data           ${config.dataDir}   (the demo devices are removed from it when the demo stops)`,
      `Toggle a relay from the web UI, or: npx sentinel command <entity id> '{"value":true}' ${busOption}`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  let unwatch = () => {};
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      // Ctrl-C under npm arrives twice (from the terminal, and forwarded by npm): one stop
      if (stopping) return;
      stopping = true;
      process.stdout.write('stopping…\n');
      void Promise.all(fleets.map((fleet) => fleet.stop()))
        // the store may be the user's (--data, --nats): it keeps only what was there before
        .then(() =>
          removeDemoDevices(gateway).catch((error: unknown) =>
            process.stderr.write(`demo: cannot remove its devices: ${(error as Error).message}\n`),
          ),
        )
        .then(() => gateway.stop())
        .finally(() => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    unwatch = launcher.watch();
  });
  unwatch();
}

async function removeDemoDevices(gateway: Gateway): Promise<void> {
  const store = await openGatewayStore({ natsUrl: gateway.natsUrl, natsCreds: gateway.natsCreds });
  try {
    for (const id of [...DEMO_DEVICES.mqtt, ...DEMO_DEVICES.ws]) await store.removeDevice(id);
  } finally {
    await store.close();
  }
}

/** Registers the demo devices afresh (new tokens each run) and starts them. */
async function startFleets(gateway: Gateway): Promise<PicketFleet[]> {
  const store = await openGatewayStore({ natsUrl: gateway.natsUrl, natsCreds: gateway.natsCreds });
  const credentials = async (ids: string[]) =>
    Promise.all(
      ids.map(async (id) => {
        await store.removeDevice(id);
        return { id, token: (await store.addDevice(id)).token };
      }),
    );
  const fleets = [
    new PicketFleet({
      gateway: `mqtt://127.0.0.1:${gateway.mqttPort}`,
      devices: await credentials(DEMO_DEVICES.mqtt),
      intervalMs: 2000,
    }),
    new PicketFleet({
      gateway: `ws://127.0.0.1:${gateway.httpPort}/picket`,
      devices: await credentials(DEMO_DEVICES.ws),
      intervalMs: 2000,
    }),
  ];
  await store.close();
  for (const fleet of fleets) fleet.start();
  return fleets;
}

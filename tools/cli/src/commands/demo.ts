// `sentinel demo` (npm run demo): a gateway with a few simulated picket devices,
// over both transports, and where to look.

import { type Gateway, openGatewayStore, resolveGatewayConfig, startGateway } from '@sentinel/gateway';
import { PicketFleet } from '@sentinel/simulators';
import type { Command } from 'commander';
import { addGatewayOptions, gatewayFlagValues } from './options.js';

const DEMO_DEVICES = {
  mqtt: ['demo-kitchen', 'demo-hall'],
  ws: ['demo-porch'],
};

export function registerDemoCommand(program: Command): void {
  addGatewayOptions(
    program
      .command('demo')
      .description('run a gateway with three simulated devices (two over MQTT, one over WebSocket)'),
  ).action(async (_flags: unknown, self: Command) => {
    const config = resolveGatewayConfig({ logLevel: 'warn', ...gatewayFlagValues(self) }, process.env);
    const gateway = await startGateway(config);
    const fleets = await startFleets(gateway);
    const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
    process.stdout.write(
      [
        '',
        'Sentinel Edge demo is running: 3 simulated devices report every 2 s.',
        `  web UI         http://${host}:${gateway.httpPort}/`,
        `  metrics        http://${host}:${gateway.httpPort}/metrics`,
        `  NATS           ${gateway.natsUrl}   (readings on sentinel.state.>)`,
        `  watch the bus  npx sentinel watch --nats ${gateway.natsUrl}`,
        `  MQTT devices   mqtt://${host}:${gateway.mqttPort}   WebSocket devices ws://${host}:${gateway.httpPort}/picket`,
        'Toggle a relay from the web UI, or: npx sentinel command <entity id> \'{"value":true}\' --nats <url above>',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.stdout.write('stopping…\n');
        void Promise.all(fleets.map((fleet) => fleet.stop()))
          .then(() => gateway.stop())
          .finally(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });
}

/** Registers the demo devices afresh (new tokens each run) and starts them. */
async function startFleets(gateway: Gateway): Promise<PicketFleet[]> {
  const store = await openGatewayStore({ natsUrl: gateway.natsUrl });
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

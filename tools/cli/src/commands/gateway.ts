// `sentinel gateway`: the gateway process (what `npm start` runs, CONTRACT.md §2).

import {
  ConfigError,
  resolveGatewayConfig,
  startGateway,
  TlsSetupError,
  withoutPassword,
} from '@sentinel/gateway';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { captureLauncher } from '../launcher.js';
import { addGatewayOptions, gatewayFlagValues } from './options.js';

/** signals this close to the first one are the same request to stop */
const SAME_STOP_MS = 1000;

export function registerGatewayCommand(program: Command): void {
  const command = program
    .command('gateway')
    .description('run the gateway: MQTT and WebSocket for devices, the entity model, NATS')
    .addHelpText(
      'after',
      '\nEvery option can also be set by its environment variable; flags win over the environment.\nWhen ready, prints one JSON line: {"event":"ready","node_id",…,"mqtt_port","http_port","nats_url"}, plus "mqtt_tls_port" when TLS is on.',
    );
  addGatewayOptions(command).action(async (_flags: unknown, self: Command) => {
    // first thing: a signal during start-up may orphan us before we look
    const launcher = captureLauncher();
    let config: ReturnType<typeof resolveGatewayConfig>;
    try {
      config = resolveGatewayConfig(gatewayFlagValues(self), process.env);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    try {
      gateway = await startGateway(config);
    } catch (error) {
      // certificate files that cannot be read, or cannot be made: the TLS options must change
      if (error instanceof TlsSetupError) throw new UsageError(error.message, { cause: error });
      throw error;
    }
    const ready = {
      event: 'ready',
      node_id: gateway.nodeId,
      mqtt_port: gateway.mqttPort,
      http_port: gateway.httpPort,
      // a user:password in the URL stays off stdout
      nats_url: withoutPassword(gateway.natsUrl),
      ...(gateway.mqttTlsPort === undefined ? {} : { mqtt_tls_port: gateway.mqttTlsPort }),
    };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
    let unwatch = () => {};
    await new Promise<void>((resolve) => {
      let stopping = 0;
      const shutdown = () => {
        if (stopping === 0) {
          stopping = Date.now();
          void gateway.stop().finally(() => {
            process.off('SIGTERM', shutdown);
            process.off('SIGINT', shutdown);
            resolve();
          });
          return;
        }
        // Ctrl-C reaches us twice (from the terminal, and forwarded by npm, which the
        // terminal signalled too): only a signal a person sends later ends it at once
        if (Date.now() - stopping > SAME_STOP_MS) process.exit(1);
      };
      process.on('SIGTERM', shutdown);
      process.on('SIGINT', shutdown);
      unwatch = launcher.watch();
    });
    unwatch();
  });
}

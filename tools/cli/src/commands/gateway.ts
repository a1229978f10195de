// `sentinel gateway`: the gateway process (what `npm start` runs, CONTRACT.md §2).

import {
  ConfigError,
  type Gateway,
  PortInUseError,
  resolveGatewayConfig,
  startGateway,
  TlsSetupError,
  withoutPassword,
} from '@sentinel/gateway';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { captureLauncher } from '../launcher.js';
import { addGatewayOptions, gatewayFlagValues } from './options.js';

/** signals this close to the first one are the same request to stop */
const SAME_STOP_MS = 1000;
/**
 * The last resort behind the gateway's own stop deadline (CONTRACT.md §2: within 5 s):
 * past this, the process ends even if something still holds it open.
 */
const HARD_STOP_MS = 4500;
/** how long a stopped gateway's process may take to end by itself */
const EXIT_AFTER_STOP_MS = 250;

export function registerGatewayCommand(program: Command): void {
  const command = program
    .command('gateway')
    .description('run the gateway: MQTT and WebSocket for devices, the entity model, NATS')
    .addHelpText(
      'after',
      '\nEvery option can also be set by its environment variable; flags win over the environment.\nWhen ready, prints one JSON line: {"event":"ready","node_id",…,"mqtt_port","http_port","nats_url"}, plus "mqtt_tls_port" when TLS is on and "onboarding_url" (the first admin\'s one-time link) while nobody has set a password.',
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
    // the stop signals are ours before anything starts: one that came between the ready
    // line and a handler would kill node outright and orphan its nats-server
    let requested = 0;
    let gateway: Gateway | undefined;
    let onStop = () => {}; // set once the gateway runs; a signal before that stops it right after start
    const shutdown = () => {
      if (requested === 0) {
        requested = Date.now();
        onStop();
        return;
      }
      // Ctrl-C reaches us twice (from the terminal, and forwarded by npm, which the
      // terminal signalled too): only a signal a person sends later ends it at once
      if (Date.now() - requested > SAME_STOP_MS) {
        if (gateway) endEmbeddedNats(gateway);
        process.exit(1);
      }
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    const unwatch = launcher.watch();
    const release = () => {
      unwatch();
      process.off('SIGTERM', shutdown);
      process.off('SIGINT', shutdown);
    };
    try {
      gateway = await startGateway(config);
    } catch (error) {
      release();
      // certificate files that cannot be read, or cannot be made: the TLS options must change
      if (error instanceof TlsSetupError) throw new UsageError(error.message, { cause: error });
      // the message names the port and the option or variable that moves it
      if (error instanceof PortInUseError) throw new CliError(error.message, { cause: error });
      throw error;
    }
    const running = gateway;
    const ready = {
      event: 'ready',
      node_id: gateway.nodeId,
      mqtt_port: gateway.mqttPort,
      http_port: gateway.httpPort,
      // a user:password in the URL stays off stdout
      nats_url: withoutPassword(gateway.natsUrl),
      ...(gateway.mqttTlsPort === undefined ? {} : { mqtt_tls_port: gateway.mqttTlsPort }),
      // while nobody has set a password: where the first admin does (never in the JSON log)
      ...(gateway.onboardingUrl === undefined ? {} : { onboarding_url: gateway.onboardingUrl }),
    };
    if (requested === 0) {
      process.stdout.write(`${JSON.stringify(ready)}\n`);
      // for the person who ran it: stdout is for machines (the ready line above), the log is JSON
      if (config.logLevel !== 'silent') process.stderr.write(welcome(running, config.host));
      if (running.onboardingUrl !== undefined) process.stderr.write(onboardingLine(running.onboardingUrl));
    }
    await new Promise<void>((resolve) => {
      onStop = () => {
        const stopped = running.stop();
        hardStop(running, stopped);
        void stopped.finally(() => {
          release();
          resolve();
        });
      };
      if (requested !== 0) onStop();
    });
  });
}

/**
 * Makes sure the process ends once a stop began: soon after the gateway stopped (a
 * socket the NATS client was still dialing when it was closed would otherwise hold it
 * open until the dial times out), and HARD_STOP_MS after the signal at the latest.
 */
function hardStop(gateway: Gateway, stopped: Promise<void>): void {
  const exitSoon = () => {
    // time for the action to return and its exit code to be set (unref: a natural exit wins)
    setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_AFTER_STOP_MS).unref();
  };
  stopped.then(exitSoon, exitSoon);
  setTimeout(() => {
    endEmbeddedNats(gateway);
    process.stderr.write(`sentinel: the gateway did not stop within ${HARD_STOP_MS} ms; exiting\n`);
    process.exit(1);
  }, HARD_STOP_MS).unref();
}

/**
 * The embedded nats-server runs in its own process group: it must not outlive a forced
 * exit. SIGTERM: it finishes writing its store by itself after we are gone.
 */
function endEmbeddedNats(gateway: Gateway): void {
  const pid = gateway.natsServerPid;
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // gone already
  }
}

/** The first admin's one-time link, for the person at the terminal. */
export function onboardingLine(url: string): string {
  return `Nobody can log in yet. Open this one-time link to set the admin password (a new link is printed at each start until then):\n  ${url}\n`;
}

/** A few lines for a person: where to look, where devices connect, what to do next. */
export function welcome(gateway: Gateway, host: string): string {
  const tls = gateway.mqttTlsPort !== undefined;
  // a wildcard address is reached as localhost from this machine
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const mqtt = `mqtt://${shown}:${gateway.mqttPort}${tls ? ` (TLS: mqtts://${shown}:${gateway.mqttTlsPort})` : ''}`;
  return [
    `Sentinel Edge gateway ${gateway.nodeId} is running.`,
    `  web UI and API  ${tls ? 'https' : 'http'}://${shown}:${gateway.httpPort}/`,
    `  devices (MQTT)  ${mqtt}`,
    `  NATS            ${withoutPassword(gateway.natsUrl)}`,
    'Next, in another terminal: `npx sentinel device add <name>` registers a device (README: "Connect a device"); `npm run demo` shows simulated ones (stop this gateway first, they share ports). Ctrl-C stops.',
    '',
  ].join('\n');
}

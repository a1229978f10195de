// `sentinel simulate ble <scenario>`: every proxy of a scenario file in one
// process, each the real proxy code on the simulated noble bindings, hearing the
// scenario's sensors at its own RSSI. `--kill <proxy>@<ms>` ends one abruptly
// (no last status) to show the gateway handing its sensors to the other.
import { createProxyLogger } from '@sentinel/ble-proxy';
import { scenarioAir } from '@sentinel/simulators';
import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { untilSignal } from '../signals.js';
import { loadScenario, type RunningProxy, runProxy } from './ble-proxy.js';

export function registerBleSimulator(simulate: Command): void {
  simulate
    .command('ble')
    .description('run the simulated BLE proxies and sensors of a scenario file against NATS until SIGTERM')
    .argument('<scenario.json>', 'proxies and sensors (see bridges/ble-proxy/README.md)')
    .addOption(new Option('--nats <url>', 'NATS server(s)').env('SENTINEL_NATS_URL'))
    .addOption(new Option('--nats-creds <file>', 'NATS credentials file').env('SENTINEL_NATS_CREDS'))
    .option('--kill <proxy@ms>', 'end one proxy abruptly after ms milliseconds')
    .addOption(new Option('--log-level <level>', 'log level').default('warn'))
    .action(
      async (file: string, flags: { nats?: string; natsCreds?: string; kill?: string; logLevel: string }) => {
        if (!flags.nats) throw new UsageError('--nats: is required');
        const scenario = await loadScenario(file);
        if (scenario.proxies.length === 0)
          throw new UsageError(`scenario ${file}: proxies: name at least one proxy`);
        const kill = flags.kill ? /^([a-z0-9][a-z0-9_-]{0,31})@(\d+)$/.exec(flags.kill) : undefined;
        if (flags.kill && (!kill || !scenario.proxies.includes(kill[1]!)))
          throw new UsageError('--kill: must be <proxy id of the scenario>@<ms>');
        const log = createProxyLogger(flags.logLevel);
        const air = scenarioAir(scenario);
        const running = new Map<string, RunningProxy>();
        for (const id of scenario.proxies)
          running.set(id, await runProxy({ id, nats: flags.nats, natsCreds: flags.natsCreds, log, air }));
        air.start();
        process.stdout.write(
          `${JSON.stringify({ event: 'ready', proxies: scenario.proxies, sensors: air.sensors.length })}\n`,
        );
        if (kill) {
          setTimeout(() => {
            const victim = running.get(kill[1]!);
            running.delete(kill[1]!);
            process.stderr.write(`simulate ble: killing proxy ${kill[1]}\n`);
            // abrupt: the connection closes first, so no last status goes out
            void victim?.kill();
          }, Number(kill[2])).unref();
        }
        await untilSignal();
        air.stop();
        await Promise.all([...running.values()].map((r) => r.stop()));
      },
    );
}

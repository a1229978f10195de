// `npm run bench -- <name> [options]`: runs one benchmark by name.
// Progress goes to stderr, the result table to stdout, JSON to .artifacts/.
// Exit codes: 0 done, 1 the benchmark failed, 2 bad usage (unknown name, bad flag).

interface Bench {
  summary: string;
  run: (argv: string[]) => Promise<number>;
}

/** Every benchmark, loaded only when asked for. Add new ones (flash, ble, failover…) here. */
const BENCHES: Record<string, Bench> = {
  ingest: {
    summary:
      'MQTT device readings → NATS: readings/s, p50/p99 latency (QoS 0/1) vs aedes and mosquitto; RSS per idle connection',
    run: async (argv) => (await import('./ingest.js')).runIngest(argv),
  },
  flash: {
    summary:
      'flashing a 4 MB image through the ESP ROM simulator at 921600 baud: wall time and throughput, with and without compression',
    run: async (argv) => (await import('./flash.js')).runFlash(argv),
  },
  ble: {
    summary:
      'BLE advertisements decoded/s per core, and end to end from simulated proxies through dedupe to sentinel.state.>',
    run: async (argv) => (await import('./ble.js')).runBle(argv),
  },
  cli: {
    summary:
      '`sentinel --help` and `sentinel device list`: wall time and peak RSS, median of 10, beside `node -e 0`',
    run: async (argv) => (await import('./cli.js')).runCli(argv),
  },
  failover: {
    summary:
      'time for each single-writer subsystem to move to the other node after SIGKILL and after a graceful stop',
    run: async (argv) => (await import('./failover.js')).runFailover(argv),
  },
  automations: {
    summary:
      'trigger-to-command latency p50/p99 at 1,000 state changes/s across 100 automations vs a bare NATS subscriber; runtime RSS',
    run: async (argv) => (await import('./automations.js')).runAutomations(argv),
  },
  web: {
    summary:
      'live feed 2,000 updates/s → 50 WebSocket clients vs the same clients on NATS; 30-day 1 Hz history chart from rollups vs raw; initial page size',
    run: async (argv) => (await import('./web.js')).runWeb(argv),
  },
  ota: {
    summary:
      '50 simulated devices download a 1.5 MB OTA image at once from one gateway (a rollout): MB/s, CPU, RSS, time to roll, vs a node:http static server',
    run: async (argv) => (await import('./ota.js')).runOta(argv),
  },
  matter: {
    summary:
      'Matter bridge: commissioning time, toggle round trip and time to attribute_updated (p50/p99), RSS with 1 and 20 paired lights, beside matterjs-server figures',
    run: async (argv) => (await import('./matter.js')).runMatter(argv),
  },
  ha: {
    summary:
      'Home Assistant export: discovery of 1,000 entities and 1,000 state changes/s to mosquitto, p50/p99 at the broker, vs a bare MQTT.js client',
    run: async (argv) => (await import('./ha.js')).runHa(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(BENCHES).map((name) => name.length)) + 2;
  const lines = Object.entries(BENCHES).map(([name, bench]) => `  ${name.padEnd(width)}${bench.summary}`);
  return (
    'usage: npm run bench -- <name> [options]   (node bin/run-ts.js bench/run.ts <name> [options])\n\n' +
    `benchmarks:\n${lines.join('\n')}\n\n` +
    'Each takes --help for its options.\n'
  );
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(usage());
    return name === undefined ? 2 : 0;
  }
  const bench = Object.hasOwn(BENCHES, name) ? BENCHES[name] : undefined;
  if (!bench) {
    process.stderr.write(`bench: unknown benchmark "${name}"\n\n${usage()}`);
    return 2;
  }
  return bench.run(rest);
}

process.exitCode = await main(process.argv.slice(2));

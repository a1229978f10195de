// `npm run bench -- ingest`: how fast the gateway takes readings from MQTT
// devices into NATS, compared in the same run with two bare MQTT brokers
// relaying the same load (aedes 1.2, the library the gateway embeds, and
// Debian's mosquitto), plus the memory each idle device connection costs.
//
// Processes (all on 127.0.0.1, all stopped at the end, SIGINT included):
//   orchestrator (this file) ── IPC ── load generators (workers/load.ts) × G
//                            ── IPC ── subscriber      (workers/sink.ts)
//                            ── IPC ── idle holders    (workers/holder.ts) × H
//   targets: nats-server + `sentinel gateway`, workers/aedes-broker.ts, mosquitto

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { measureIdleRss } from './ingest/idle.js';
import { type RunSummary, renderReport, writeJson } from './ingest/output.js';
import type { IdleRow, ThroughputRow } from './ingest/results.js';
import {
  measureThroughput,
  relayCredit,
  scenariosOf,
  type ThroughputSettings,
  type Workers,
} from './ingest/throughput.js';
import { WorkerClient } from './lib/ipc.js';
import { errorMessage, log } from './lib/log.js';
import { type OptionValues, opt, readBenchOptions } from './lib/options.js';
import {
  installCleanupHandlers,
  onInterruptCleanup,
  REPO_ROOT,
  startWorker,
  stopAll,
} from './lib/processes.js';
import {
  type DeviceCredentials,
  type HolderReply,
  type HolderRequest,
  idleDeviceId,
  type LoadReply,
  type LoadRequest,
  loadDeviceId,
  type QoS,
  type SinkReply,
  type SinkRequest,
} from './lib/protocol.js';
import {
  type NatsServer,
  registerDevices,
  startAedes,
  startGateway,
  startMosquitto,
  startNatsServer,
  TARGET_NAMES,
  type Target,
  type TargetName,
} from './lib/targets.js';

export const INGEST_OPTIONS = {
  devices: {
    flag: 'devices',
    arg: '<n>',
    env: 'BENCH_DEVICES',
    help: 'simulated devices publishing',
    schema: opt.int(1, 200),
  },
  generators: {
    flag: 'generators',
    arg: '<n>',
    env: 'BENCH_GENERATORS',
    help: 'load generator processes sharing them',
    schema: opt.int(1, 2),
  },
  window: {
    flag: 'window',
    arg: '<n>',
    env: 'BENCH_WINDOW',
    help: 'state messages a device keeps in flight',
    schema: opt.int(1, 8),
  },
  rate: {
    flag: 'rate',
    arg: '<n>',
    env: 'BENCH_RATE',
    help: 'readings/s offered in the latency scenarios (0: skip them)',
    schema: opt.int(0, 2000),
  },
  warmup: {
    flag: 'warmup',
    arg: '<s>',
    env: 'BENCH_WARMUP',
    help: 'seconds of load before measuring',
    schema: opt.number(0, 2),
  },
  duration: {
    flag: 'duration',
    arg: '<s>',
    env: 'BENCH_DURATION',
    help: 'seconds measured per scenario',
    schema: opt.number(0.5, 5),
  },
  values: {
    flag: 'values',
    arg: '<n>',
    env: 'BENCH_VALUES',
    help: 'readings (entities) per state message',
    schema: opt.int(1, 1),
  },
  pad: {
    flag: 'pad',
    arg: '<bytes>',
    env: 'BENCH_PAD',
    help: 'extra bytes in every state message (an ignored "pad" field)',
    schema: opt.int(0, 0),
  },
  qos: {
    flag: 'qos',
    arg: '<list>',
    env: 'BENCH_QOS',
    help: 'QoS levels to measure',
    schema: opt.list(['0', '1'], ['0', '1']),
  },
  targets: {
    flag: 'targets',
    arg: '<list>',
    env: 'BENCH_TARGETS',
    help: 'systems to measure',
    schema: opt.list(TARGET_NAMES as [TargetName, ...TargetName[]], [...TARGET_NAMES]),
  },
  idle: {
    flag: 'idle',
    arg: '<n>',
    env: 'BENCH_IDLE',
    help: 'idle connections for RSS per connection (0: skip)',
    schema: opt.int(0, 10_000),
  },
  holders: {
    flag: 'holders',
    arg: '<n>',
    env: 'BENCH_HOLDERS',
    help: 'processes holding the idle connections',
    schema: opt.int(1, 2),
  },
  out: {
    flag: 'out',
    arg: '<file>',
    env: 'BENCH_OUT',
    help: 'JSON results (relative to the repository root)',
    schema: opt.string('.artifacts/bench-ingest.json'),
  },
  verbose: {
    flag: 'verbose',
    env: 'BENCH_VERBOSE',
    help: "show every child process's stderr",
    schema: opt.flag(),
  },
};

export type IngestOptions = OptionValues<typeof INGEST_OPTIONS>;

export const INGEST_DESCRIPTION =
  'Gateway ingest (MQTT devices → NATS sentinel.state.>) at QoS 0 and 1, against bare aedes and mosquitto\n' +
  'relaying the same load (MQTT → MQTT subscriber); then RSS per idle authenticated device connection.\n' +
  'Environment only: BENCH_SENTINEL (the sentinel entry to run, default bin/sentinel.js),\n' +
  'BENCH_MOSQUITTO (the mosquitto binary, default: from PATH, else /usr/sbin/mosquitto).';

const LOAD_WORKER = new URL('./workers/load.ts', import.meta.url);
const SINK_WORKER = new URL('./workers/sink.ts', import.meta.url);
const HOLDER_WORKER = new URL('./workers/holder.ts', import.meta.url);

/** Splits `items` into `parts` nearly equal consecutive runs. */
function split<T>(items: T[], parts: number): T[][] {
  const size = Math.ceil(items.length / parts);
  return Array.from({ length: parts }, (_, i) => items.slice(i * size, (i + 1) * size));
}

export async function runIngest(argv: string[]): Promise<number> {
  const options = readBenchOptions('ingest', INGEST_DESCRIPTION, INGEST_OPTIONS, argv);
  if (typeof options === 'number') return options;
  installCleanupHandlers();
  const scratch = await mkdtemp(join(tmpdir(), 'sentinel-bench-'));
  onInterruptCleanup(() => rm(scratch, { recursive: true, force: true }));
  try {
    await ingest(options, scratch);
    return 0;
  } catch (error) {
    log(`failed: ${errorMessage(error)}`);
    if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  } finally {
    await stopAll();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function ingest(options: IngestOptions, scratch: string): Promise<void> {
  const startedAt = new Date();
  const loadBefore = loadavg();
  const verbose = options.verbose;
  const targets = TARGET_NAMES.filter((name) => options.targets.includes(name));
  const qos = options.qos.map((level) => Number(level) as QoS);
  const keys = Array.from({ length: options.values }, (_, i) =>
    i === 0 ? 'temperature' : `temperature_${i + 1}`,
  );
  log(
    `ingest: ${options.devices} devices in ${options.generators} generator(s), window ${options.window}, ` +
      `${options.values} reading(s)/message, QoS ${qos.join(',')}, ${options.warmup}+${options.duration} s per scenario; ` +
      `targets ${targets.join(', ')}; ${options.idle} idle connections`,
  );

  // devices: each generator owns a run of ids (the sink tells them apart by id)
  const loadIds = split(
    Array.from({ length: options.devices }, (_, i) => i),
    options.generators,
  ).map((indices, generator) => indices.map((index) => loadDeviceId(generator, index)));
  const idleIds = split(
    Array.from({ length: options.idle }, (_, i) => idleDeviceId(i)),
    options.holders,
  );

  const generators = Array.from(
    { length: options.generators },
    (_, i) =>
      new WorkerClient<LoadRequest, LoadReply>(startWorker(`load-${i}`, LOAD_WORKER, [], { verbose })),
  );
  const sink = new WorkerClient<SinkRequest, SinkReply>(startWorker('sink', SINK_WORKER, [], { verbose }));
  const workers: Workers = { generators, sink };
  relayCredit(workers);

  // the gateway needs its NATS and registered devices before it can be measured
  let nats: NatsServer | undefined;
  let tokens = new Map<string, string>();
  let gatewayProblem: string | undefined;
  if (targets.includes('gateway')) {
    try {
      const natsDir = join(scratch, 'nats');
      await mkdir(natsDir);
      nats = await startNatsServer(natsDir, verbose);
      log(`nats-server at ${nats.url}; registering ${options.devices + options.idle} devices`);
      tokens = await registerDevices(nats.url, [...loadIds.flat(), ...idleIds.flat()], { verbose });
    } catch (error) {
      gatewayProblem = errorMessage(error);
      log(`gateway unavailable: ${gatewayProblem}`);
    }
  }
  let gatewayInstances = 0;
  const startTarget = async (name: TargetName): Promise<Target> => {
    switch (name) {
      case 'gateway': {
        if (gatewayProblem !== undefined || !nats) throw new Error(gatewayProblem ?? 'no NATS');
        const dataDir = join(scratch, `gateway-${++gatewayInstances}`);
        await mkdir(dataDir);
        return startGateway({
          natsUrl: nats.url,
          natsPid: nats.child.pid,
          dataDir,
          nodeId: 'bench',
          verbose,
          readyTimeoutMs: 30_000,
        });
      }
      case 'aedes':
        return startAedes(verbose);
      case 'mosquitto':
        return startMosquitto(scratch, verbose);
    }
  };
  const credentials = (name: TargetName, ids: string[]): DeviceCredentials[] =>
    ids.map((id) => (name === 'gateway' ? { id, password: tokens.get(id) } : { id }));

  const settings: ThroughputSettings = {
    qos,
    window: options.window,
    warmupMs: options.warmup * 1000,
    durationMs: options.duration * 1000,
    keys,
    pad: options.pad,
    pacedRate: options.rate,
    settleMs: 200,
    connectConcurrency: 50,
  };
  const throughput: ThroughputRow[] = [];
  for (const name of targets) {
    log(`throughput: ${name}`);
    let target: Target | undefined;
    try {
      target = await startTarget(name);
      throughput.push(
        ...(await measureThroughput(
          target,
          workers,
          loadIds.map((ids) => credentials(name, ids)),
          settings,
        )),
      );
    } catch (error) {
      log(`  ${name}: ${errorMessage(error)}`);
      for (const scenario of scenariosOf(settings)) {
        throughput.push({
          scenario: scenario.name,
          qos: scenario.qos,
          mode: scenario.mode,
          target: name,
          status: 'unavailable',
          reason: errorMessage(error),
        });
      }
    } finally {
      await target?.stop();
    }
  }
  await sink.request({ type: 'unsubscribe' }, 'unsubscribed', 10_000).catch(() => undefined);
  await Promise.all([...generators.map((g) => g.child.stop()), sink.child.stop()]);

  const idle: IdleRow[] = [];
  if (options.idle > 0) {
    const holders = Array.from(
      { length: options.holders },
      (_, i) =>
        new WorkerClient<HolderRequest, HolderReply>(
          startWorker(`holder-${i}`, HOLDER_WORKER, [], { verbose }),
        ),
    );
    for (const name of targets) {
      log(`idle connections: ${name} (fresh instance)`);
      let target: Target | undefined;
      try {
        target = await startTarget(name);
        idle.push(
          await measureIdleRss(
            target,
            holders,
            idleIds.map((ids) => credentials(name, ids)),
            { keepaliveS: 60, concurrency: 100, settleMs: 1500, connectTimeoutMs: 120_000 },
          ),
        );
      } catch (error) {
        log(`  ${name}: ${errorMessage(error)}`);
        idle.push({ target: name, status: 'unavailable', reason: errorMessage(error) });
      } finally {
        await target?.stop();
      }
    }
    await Promise.all(holders.map((holder) => holder.child.stop()));
  }

  const summary: RunSummary = { options, startedAt, loadBefore, loadAfter: loadavg(), throughput, idle };
  process.stdout.write(`\n${renderReport(summary)}`);
  const outFile = isAbsolute(options.out) ? options.out : resolve(REPO_ROOT, options.out);
  await writeJson(outFile, summary);
  log(`results written to ${outFile}`);
}

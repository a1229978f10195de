// `npm run bench -- automations`: trigger-to-command latency of the automation runtime
// (`sentinel automations run`, its automations in sandbox worker threads) at --rate state
// changes/s spread over --automations automations, beside the floor: a bare NATS
// subscriber process that sends the same command itself. Then the runtime's RSS with
// those automations loaded. Goal (issue "Automations"): p99 within 2× the floor.
//
// Each automation watches one sensor and commands one switch with the reading's value;
// the reading's value is its send time, so the responder (this process, which also
// publishes) measures publish → command without comparing clocks of two processes.
// The runtime and the floor run side by side, each on its own sensors and switches, and
// are measured in alternating one-second rounds (after a warm-up of each): a busy moment
// of the machine then falls on both, not on whichever happened to run then.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { SANDBOX_DEFAULTS } from '@sentinel/automations';
import { LatencyHistogram } from './lib/histogram.js';
import { errorMessage, log } from './lib/log.js';
import { type OptionTable, type OptionValues, opt, readBenchOptions } from './lib/options.js';
import { readProcessCpuMs, readRssKiB } from './lib/proc.js';
import {
  installCleanupHandlers,
  type ManagedChild,
  startProcess,
  stopAll,
  waitForReadyLine,
} from './lib/processes.js';
import { formatMs, formatRatio, formatTable, ratioOf } from './lib/report.js';
import { startNatsServer } from './lib/targets.js';

const OPTIONS = {
  automations: {
    flag: 'automations',
    arg: '<n>',
    env: 'BENCH_AUTOMATIONS',
    help: 'automations loaded (each watches its own sensor)',
    schema: opt.int(1, 100),
  },
  rate: {
    flag: 'rate',
    arg: '<n>',
    env: 'BENCH_AUTOMATIONS_RATE',
    help: 'state changes per second, round robin over the sensors',
    schema: opt.int(1, 1000),
  },
  seconds: {
    flag: 'seconds',
    arg: '<s>',
    env: 'BENCH_AUTOMATIONS_SECONDS',
    help: 'measured seconds per target (after 2 s of warm-up)',
    schema: opt.int(1, 10),
  },
  groupSize: {
    flag: 'group-size',
    arg: '<n>',
    env: 'BENCH_AUTOMATIONS_GROUP_SIZE',
    help: 'automations per sandbox worker in the runtime',
    schema: opt.int(1, SANDBOX_DEFAULTS.groupSize),
  },
  storedTraces: {
    flag: 'stored-traces',
    arg: '<n>',
    env: 'BENCH_AUTOMATIONS_STORED_TRACES',
    help: 'traces the runtime keeps in KV per automation (0: none; one KV write per automation every 5 s at most)',
    schema: opt.int(0, 20),
  },
  verbose: {
    flag: 'verbose',
    env: 'BENCH_VERBOSE',
    help: 'pass the output of nats-server and the runtime through',
    schema: opt.flag(),
  },
} satisfies OptionTable;
const DESCRIPTION =
  'Trigger-to-command latency p50/p99 of `sentinel automations run` beside a bare NATS subscriber that sends the commands itself; RSS of the runtime.';

const SENTINEL = fileURLToPath(new URL('../bin/sentinel.js', import.meta.url));
const WARMUP_MS = 2000;

/** the runtime's sensors and switches, and the floor's: never the same, so each hears only its own */
const sensor = (i: number) => `0190b000-0000-7000-8000-${String(i).padStart(12, '0')}`;
const target = (i: number) => `0190b000-0000-7000-9000-${String(i).padStart(12, '0')}`;
const floorSensor = (i: number) => `0190b000-0000-7000-a000-${String(i).padStart(12, '0')}`;
const floorTarget = (i: number) => `0190b000-0000-7000-b000-${String(i).padStart(12, '0')}`;

/** The floor: subscribes to its sensors' readings and sends each command itself, one process, no sandbox. */
const FLOOR_SCRIPT = `
import { connect } from '@nats-io/transport-node';
const nc = await connect({ servers: process.env.BENCH_NATS, noAsyncTraces: true });
const id = (i) => '0190b000-0000-7000-a000-' + String(i).padStart(12, '0');
for (let i = 0; i < Number(process.env.BENCH_SENSORS); i++) {
  nc.subscribe('sentinel.state.' + id(i), { callback: (_e, msg) => {
    const reading = msg.json();
    const target = reading.entity_id.replace('-7000-a000-', '-7000-b000-');
    nc.request('sentinel.cmd.' + target, JSON.stringify({ value: reading.value }), { timeout: 10000 }).catch(() => {});
  } });
}
await nc.flush();
process.stdout.write(JSON.stringify({ event: 'ready' }) + '\\n');
`;

/** The runtime's line once it runs its automations (it prints no `ready` event of the bench's kind). */
function runningLine(child: ManagedChild): Promise<{ automations: string[]; workers: number }> {
  const lines = createInterface({ input: child.process.stdout! });
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      if (!line.includes('"automations_running"')) return;
      lines.removeAllListeners('line');
      child.process.stdout!.resume();
      resolve(JSON.parse(line));
    });
    void child.exited.then((how) =>
      reject(new Error(`the runtime exited (${how}): ${child.failureReason() ?? ''}`)),
    );
  });
}

interface Result {
  name: string;
  histogram: LatencyHistogram;
  /** CPU ms the target used over its measured rounds */
  cpuMs: number;
  rssKiB?: number;
}

interface Side {
  result: Result;
  pid: number;
  sensor: (i: number) => string;
  /** the prefix of its switches' command subjects */
  commands: string;
}

const ROUND_MS = 1000;

/**
 * Publishes `rate` readings/s to one side's sensors at a time: a warm-up of each side, then
 * `seconds` alternating rounds of each, recording publish → command latency and the side's
 * CPU time in its rounds.
 */
async function measure(
  nc: NatsConnection,
  options: OptionValues<typeof OPTIONS>,
  sides: Side[],
): Promise<void> {
  let recording = false;
  const sub = nc.subscribe('sentinel.cmd.*', {
    callback: (_e, msg) => {
      const { value } = msg.json<{ value: number }>();
      if (recording) {
        const side = sides.find((s) => msg.subject.startsWith(s.commands));
        side?.result.histogram.record(performance.timeOrigin + performance.now() - value);
      }
      msg.respond('{"ok":true}');
    },
  });
  await nc.flush();
  const round = async (side: Side, ms: number) => {
    const tickMs = 10;
    // owed by the clock, not by ticks: a tick that runs late (a busy machine) sends what the
    // late ones owed, so both sides get the full rate
    let sent = 0;
    let next = 0;
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        const done = now - started >= ms;
        const owed = Math.floor((Math.min(now - started, ms) * options.rate) / 1000);
        for (; sent < owed; sent++) {
          const id = side.sensor(next++ % options.automations);
          nc.publish(
            `sentinel.state.${id}`,
            JSON.stringify({
              entity_id: id,
              value: performance.timeOrigin + performance.now(),
              ts: Date.now(),
            }),
          );
        }
        if (done) {
          clearInterval(timer);
          resolve();
        }
      }, tickMs);
    });
    await nc.flush();
  };
  for (const side of sides) await round(side, WARMUP_MS);
  recording = true;
  for (let r = 0; r < options.seconds; r++)
    for (const side of sides) {
      const before = await readProcessCpuMs(side.pid);
      await round(side, ROUND_MS);
      side.result.cpuMs += (await readProcessCpuMs(side.pid)) - before;
    }
  recording = false;
  sub.unsubscribe();
}

async function prepare(nc: NatsConnection, dir: string, count: number): Promise<void> {
  const kvm = new Kvm(nc);
  const entities = await kvm.create('sentinel_entities', { history: 1 });
  await kvm.create('sentinel_state', { history: 1 });
  await kvm.create('sentinel_automations', { history: 1 });
  for (let i = 0; i < count; i++) {
    await entities.put(sensor(i), JSON.stringify({ id: sensor(i), name: `Sensor ${i}`, platform: 'sensor' }));
    await entities.put(target(i), JSON.stringify({ id: target(i), name: `Switch ${i}`, platform: 'number' }));
    await entities.put(
      floorSensor(i),
      JSON.stringify({ id: floorSensor(i), name: `Floor sensor ${i}`, platform: 'sensor' }),
    );
    await entities.put(
      floorTarget(i),
      JSON.stringify({ id: floorTarget(i), name: `Floor switch ${i}`, platform: 'number' }),
    );
    await writeFile(
      join(dir, `a${i}.ts`),
      `import { defineAutomation } from '@sentinel/automations';
export default defineAutomation({
  id: 'bench-${i}',
  mode: 'parallel',
  max: 100,
  triggers: [{ kind: 'state', entity: '${sensor(i)}' }],
  run: (ctx) => ctx.command('${target(i)}', ctx.trigger.value ?? null),
});
`,
    );
  }
}

export async function runAutomations(argv: string[]): Promise<number> {
  const options = readBenchOptions('automations', DESCRIPTION, OPTIONS, argv);
  if (typeof options === 'number') return options;
  installCleanupHandlers();
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-bench-automations-'));
  let nc: NatsConnection | undefined;
  try {
    await mkdir(join(dir, 'nats'));
    const nats = await startNatsServer(join(dir, 'nats'), options.verbose);
    nc = await connect({ servers: nats.url, noAsyncTraces: true });
    const files = join(dir, 'automations');
    await mkdir(files);
    log(
      `${options.automations} automations, ${options.rate} state changes/s, ${options.seconds} s measured each`,
    );
    await prepare(nc, files, options.automations);

    log('runtime: starting `sentinel automations run`…');
    const runtime: ManagedChild = startProcess(
      'runtime',
      process.execPath,
      [
        SENTINEL,
        'automations',
        'run',
        files,
        '--nats',
        nats.url,
        '--no-leader-lock',
        '--group-size',
        String(options.groupSize),
        '--stored-traces',
        String(options.storedTraces),
      ],
      { verbose: options.verbose },
    );
    const ready = await runningLine(runtime);
    if (ready.automations.length !== options.automations)
      throw new Error(`the runtime loaded ${ready.automations.length} of ${options.automations} automations`);
    const loadedRss = await readRssKiB(runtime.pid);
    log('floor: starting a bare NATS subscriber…');
    const floorChild = startProcess('floor', process.execPath, ['--input-type=module', '-e', FLOOR_SCRIPT], {
      verbose: options.verbose,
      env: { ...process.env, BENCH_NATS: nats.url, BENCH_SENSORS: String(options.automations) },
    });
    await waitForReadyLine(floorChild, 10_000);
    const floorRss = await readRssKiB(floorChild.pid);
    const results: Result[] = [
      {
        name: `runtime (${ready.workers} workers)`,
        histogram: new LatencyHistogram(),
        cpuMs: 0,
        rssKiB: loadedRss,
      },
      { name: 'bare NATS subscriber (floor)', histogram: new LatencyHistogram(), cpuMs: 0, rssKiB: floorRss },
    ];
    log(`measuring: ${options.seconds} rounds of ${ROUND_MS / 1000} s each, alternating…`);
    await measure(nc, options, [
      { result: results[0]!, pid: runtime.pid, sensor, commands: `sentinel.cmd.${target(0).slice(0, 24)}` },
      {
        result: results[1]!,
        pid: floorChild.pid,
        sensor: floorSensor,
        commands: `sentinel.cmd.${floorTarget(0).slice(0, 24)}`,
      },
    ]);
    await runtime.stop();
    await floorChild.stop();

    const [r, f] = results as [Result, Result];
    process.stdout.write(
      `${formatTable(
        [
          'target',
          'commands',
          'p50 ms',
          'p99 ms',
          'p50 ÷ floor',
          'p99 ÷ floor',
          'CPU ms',
          `RSS MiB (${options.automations} loaded)`,
        ],
        results.map((x) => [
          x.name,
          x.histogram.size,
          formatMs(x.histogram.percentile(50)),
          formatMs(x.histogram.percentile(99)),
          formatRatio(ratioOf(x.histogram.percentile(50), f.histogram.percentile(50))),
          formatRatio(ratioOf(x.histogram.percentile(99), f.histogram.percentile(99))),
          x.cpuMs,
          x.rssKiB !== undefined ? (x.rssKiB / 1024).toFixed(1) : undefined,
        ]),
        [false, true, true, true, true, true, true, true],
      )}\n`,
    );
    const p99Ratio = ratioOf(r.histogram.percentile(99), f.histogram.percentile(99));
    process.stdout.write(
      `goal p99 ≤ 2× floor: ${p99Ratio !== undefined && p99Ratio <= 2 ? 'met' : 'not met'}; expected ${options.rate * options.seconds} commands each\n`,
    );
    await mkdirArtifacts();
    await writeFile(
      join(ARTIFACTS, 'bench-automations.json'),
      `${JSON.stringify({ options, results: results.map((x) => ({ name: x.name, cpu_ms: x.cpuMs, rss_kib: x.rssKiB, histogram: x.histogram.snapshot() })) }, null, 2)}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`bench automations: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    await nc?.close();
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

const ARTIFACTS = fileURLToPath(new URL('../.artifacts/', import.meta.url));
const mkdirArtifacts = () => mkdir(ARTIFACTS, { recursive: true });

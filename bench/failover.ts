// `npm run bench -- failover`: how long a household notices a gateway node's
// death. Two real `sentinel gateway` processes on one nats-server, simulated
// picket devices that know both nodes (QoS 1, a reading every 100 ms); then, trial
// after trial, the leader of a subsystem is stopped (SIGKILL: a crash; SIGTERM: a
// planned stop) and the benchmark measures, from the signal:
//   - for each subsystem the stopped node led: until the other node leads it
//     (its GET /status names itself in `leaders`), and
//   - until every device that was on the stopped node has a reading acknowledged
//     again (through the other node).
// The stopped node is started again (as a standby) before the next trial. The
// peer of each figure is its bound: TTL + grace after a crash, 3 s after a
// planned stop; the ratio is the measured max over the bound.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openGatewayStore } from '@sentinel/gateway';
import { PicketDevice } from '@sentinel/simulators';
import { killStrays } from '../test/support/cli.js';
import { type ClusterNode, type LockSettings, startClusterNode, until } from '../test/support/cluster.js';
import { startNats, type TestNats } from '../test/support/nats.js';
import { errorMessage, log } from './lib/log.js';
import { type OptionValues, opt, readBenchOptions } from './lib/options.js';
import { REPO_ROOT } from './lib/processes.js';
import { formatMs, formatRatio, formatTable, median } from './lib/report.js';

export const FAILOVER_OPTIONS = {
  trials: {
    flag: 'trials',
    arg: '<n>',
    env: 'BENCH_TRIALS',
    help: 'trials per kind of stop',
    schema: opt.int(1, 10),
  },
  devices: {
    flag: 'devices',
    arg: '<n>',
    env: 'BENCH_DEVICES',
    help: 'simulated devices (half start on each node)',
    schema: opt.int(2, 8),
  },
  ttl: {
    flag: 'ttl',
    arg: '<ms>',
    env: 'BENCH_LOCK_TTL_MS',
    help: "the nodes' --lock-ttl (the gateway default)",
    schema: opt.int(500, 15_000),
  },
  heartbeat: {
    flag: 'heartbeat',
    arg: '<ms>',
    env: 'BENCH_LOCK_HEARTBEAT_MS',
    help: "the nodes' --lock-heartbeat (the gateway default)",
    schema: opt.int(100, 5000),
  },
  grace: {
    flag: 'grace',
    arg: '<ms>',
    env: 'BENCH_LOCK_GRACE_MS',
    help: "the nodes' --lock-grace (the gateway default)",
    schema: opt.int(100, 5000),
  },
  kinds: {
    flag: 'kinds',
    arg: '<list>',
    env: 'BENCH_KINDS',
    help: 'which stops to measure',
    schema: opt.list(['kill', 'term'] as const, ['kill', 'term']),
  },
};

type Options = OptionValues<typeof FAILOVER_OPTIONS>;
type Kind = 'kill' | 'term';

const GRACEFUL_GOAL_MS = 3000;
/** how often /status is asked while waiting for a takeover */
const POLL_MS = 20;

interface Sample {
  kind: Kind;
  trial: number;
  victim: string;
  /** subsystem → ms from the signal until the other node led it */
  subsystems: Record<string, number>;
  /** ms until every device of the stopped node had a reading acknowledged again */
  devices: number | undefined;
}

export async function runFailover(argv: string[]): Promise<number> {
  const options = readBenchOptions(
    'failover',
    'Time for each single-writer subsystem, and for the devices, to move to the other gateway node\n' +
      'after a SIGKILL and after a SIGTERM of the leader, over --trials trials each.',
    FAILOVER_OPTIONS,
    argv,
  );
  if (typeof options === 'number') return options;

  const locks: LockSettings = {
    ttlMs: options.ttl,
    heartbeatMs: options.heartbeat,
    graceMs: options.grace,
    reconnectGraceMs: 30_000,
  };
  const crashGoal = locks.ttlMs + locks.graceMs;
  let nats: TestNats | undefined;
  const devices: PicketDevice[] = [];
  const interrupted = () => {
    killStrays();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    nats = await startNats();
    log(
      `nats-server at ${nats.url}; starting two gateway nodes (TTL ${locks.ttlMs} ms, grace ${locks.graceMs} ms)`,
    );
    const nodes = new Map<string, ClusterNode>();
    for (const id of ['node-a', 'node-b']) nodes.set(id, await startClusterNode(nats.url, id, locks));
    const urls = () => ['node-a', 'node-b'].map((id) => nodes.get(id)!.mqttUrl);

    const store = await openGatewayStore({ natsUrl: nats.url });
    const lastAck = new Map<string, number>();
    for (let i = 0; i < options.devices; i++) {
      const id = `failover-${i + 1}`;
      const { token } = await store.addDevice(id);
      const [first, second] = urls();
      const device = new PicketDevice({
        id,
        token,
        gateway: i % 2 ? [second!, first!] : [first!, second!],
        intervalMs: 100,
        qos: 1,
        backoff: { initialMs: 100, maxMs: 1000 },
      });
      device.on('acked', () => lastAck.set(id, performance.now()));
      device.start();
      devices.push(device);
    }
    await store.close();
    await until(() => devices.every((d) => lastAck.has(d.id)) || undefined, 60_000);
    log(`${devices.length} devices publishing through both nodes`);

    const samples: Sample[] = [];
    for (const kind of options.kinds) {
      for (let trial = 1; trial <= options.trials; trial++) {
        const any = [...nodes.values()][0]!;
        const status = await any.status();
        const led = Object.entries(status.leaders).filter(([, leader]) => leader !== null);
        // round-robin over the subsystems that have a leader: each one's leader gets stopped in turn
        const [target] = led[(trial - 1) % led.length]!;
        const victimId = status.leaders[target]!.node_id;
        const victim = nodes.get(victimId)!;
        const survivor = nodes.get(victimId === 'node-a' ? 'node-b' : 'node-a')!;
        const victimLeads = led.filter(([, leader]) => leader!.node_id === victimId).map(([name]) => name);
        // the devices on the stopped node (their records name it)
        const onVictim = await devicesOn(victimId, nats.url);

        const stoppedAt = performance.now();
        const stopping = kind === 'kill' ? victim.kill() : victim.stop();
        const subsystems: Record<string, number> = {};
        const deviceDone = until(
          () => onVictim.every((id) => (lastAck.get(id) ?? 0) > stoppedAt) || undefined,
          crashGoal * 4,
          POLL_MS,
        )
          .then(() => performance.now() - stoppedAt)
          .catch(() => undefined);
        await until(
          async () => {
            const now = await survivor.status();
            for (const name of victimLeads) {
              if (subsystems[name] === undefined && now.leaders[name]?.node_id === survivor.nodeId) {
                subsystems[name] = performance.now() - stoppedAt;
              }
            }
            return victimLeads.every((name) => subsystems[name] !== undefined) || undefined;
          },
          crashGoal * 4,
          POLL_MS,
        );
        const devicesMs = await deviceDone;
        await stopping;
        samples.push({ kind, trial, victim: victimId, subsystems, devices: devicesMs });
        log(
          `${kind} #${trial} of ${victimId} (led ${victimLeads.join(', ')}): ` +
            `${Object.entries(subsystems)
              .map(([name, ms]) => `${name} ${formatMs(ms)} ms`)
              .join(', ')}; devices ${formatMs(devicesMs) ?? '—'} ms`,
        );
        // back as a standby, with every device connected somewhere, before the next trial
        nodes.set(victimId, await victim.restart());
        await until(async () => {
          const view = await survivor.status();
          return view.nodes.filter((n) => n.alive).length === 2 || undefined;
        }, 60_000);
        const settled = performance.now();
        await until(() => devices.every((d) => (lastAck.get(d.id) ?? 0) > settled) || undefined, 60_000);
      }
    }

    process.stdout.write(`${report(samples, options, crashGoal)}\n`);
    const artifacts = join(REPO_ROOT, '.artifacts');
    await mkdir(artifacts, { recursive: true });
    await writeFile(
      join(artifacts, 'bench-failover.json'),
      `${JSON.stringify({ options, goals: { crash_ms: crashGoal, graceful_ms: GRACEFUL_GOAL_MS }, samples }, null, 2)}\n`,
    );
    await Promise.all(devices.map((d) => d.stop()));
    for (const node of nodes.values()) await node.stop();
    return 0;
  } catch (error) {
    process.stderr.write(`bench failover: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', interrupted);
    await Promise.all(devices.map((d) => d.stop().catch(() => undefined)));
    killStrays();
    await nats?.stop();
  }
}

/** The picket devices whose record says they are online on `nodeId`. */
async function devicesOn(nodeId: string, natsUrl: string): Promise<string[]> {
  const store = await openGatewayStore({ natsUrl });
  try {
    const ids: string[] = [];
    for await (const key of await store.bus.kv.devices.keys()) {
      const entry = await store.bus.kv.devices.get(key);
      const record = entry?.json<{ online?: boolean; node_id?: string }>();
      if (record?.online && record.node_id === nodeId && key.startsWith('picket-')) ids.push(key.slice(7));
    }
    return ids;
  } finally {
    await store.close();
  }
}

function report(samples: Sample[], options: Options, crashGoal: number): string {
  const rows: (string | number | undefined)[][] = [];
  for (const kind of options.kinds) {
    const ofKind = samples.filter((s) => s.kind === kind);
    const goal = kind === 'kill' ? crashGoal : GRACEFUL_GOAL_MS;
    const label = kind === 'kill' ? 'SIGKILL' : 'SIGTERM';
    const names = [...new Set(ofKind.flatMap((s) => Object.keys(s.subsystems)))].sort();
    const line = (what: string, values: number[]) => {
      const max = values.length ? Math.max(...values) : undefined;
      rows.push([
        `${what} after ${label}`,
        values.length,
        formatMs(median(values)),
        formatMs(max),
        goal,
        formatRatio(max === undefined ? undefined : max / goal),
        max === undefined ? '—' : max <= goal ? 'met' : 'MISSED',
      ]);
    };
    for (const name of names)
      line(
        `${name} leader`,
        ofKind.flatMap((s) => s.subsystems[name] ?? []),
      );
    line(
      'devices served again',
      ofKind.flatMap((s) => s.devices ?? []),
    );
  }
  const settings =
    `TTL ${options.ttl} ms, heartbeat ${options.heartbeat} ms, grace ${options.grace} ms; ` +
    `${options.trials} trial(s) per kind; ${options.devices} devices; peer = the bound (crash: TTL + grace; planned stop: ${GRACEFUL_GOAL_MS} ms)`;
  return `${formatTable(
    ['recovery', 'samples', 'median ms', 'max ms', 'bound ms', 'max ÷ bound', 'goal'],
    rows,
    [false, true, true, true, true, true, false],
  )}\n\n${settings}`;
}

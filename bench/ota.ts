// `npm run bench -- ota`: what our OTA download path costs. A `sentinel gateway` on a
// nats-server rolls a 1.5 MB image out to --devices simulated pickets at once (one
// batch, no canary) through its download route (per-offer credential, device token,
// Range support, progress over MQTT). The peer, in the same run, is the plainest setup
// that does the same job: Debian's mosquitto carrying the offers, progress and confirms,
// and a static file server (node:http + fs.createReadStream, its own process) serving the
// file. Both sides serve the same clients: as many simulated pickets of the same code
// (download, progress every 10 %, SHA-256 and image check, reboot into the new slot,
// hello), in this process.
//   - throughput: image bytes × devices ÷ (last byte of the last download − first response),
//     both taken in the devices, on both sides;
//   - CPU: user + system ms of the server processes (the gateway + its nats-server; mosquitto + static server)
//     from the offers until every device runs the new image, confirmed;
//   - RSS: the server processes' peak meanwhile;
//   - time to roll: from the offers until every device runs the new image, confirmed.
// --rounds rounds of each side, alternating which goes first, each with a newer image
// for the same devices; the table holds each measure's median over the rounds, and the
// throughput ratio is the median of the rounds' ratios: a machine's busy moment lands in
// one round, not in one side. One unmeasured round on the peer first, so the clients'
// code is warm on both sides. The servers run on CPU 0 and the devices on the other CPUs
// (taskset): 100 simulated devices hashing 1.5 MB images would otherwise take the CPU
// the servers serve with, and the ratio would measure the scheduler. The ratio of the
// throughputs is the cost of our path (goal ≥ 0.8×).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kvm } from '@nats-io/kv';
import { buildAppImage, type OtaMessage } from '@sentinel/firmware';
import { FirmwareStore, openGatewayStore } from '@sentinel/gateway';
import { type OtaEvent, PicketDevice } from '@sentinel/simulators';
import mqtt from 'mqtt';
import { connectTestBus } from '../test/support/bus.js';
import { killStrays } from '../test/support/cli.js';
import { type ClusterNode, startClusterNode, TEST_LOCKS } from '../test/support/cluster.js';
import { startMosquitto, type TestMosquitto } from '../test/support/mosquitto.js';
import { startNats, type TestNats } from '../test/support/nats.js';
import { errorMessage, log } from './lib/log.js';
import { type OptionValues, opt, readBenchOptions } from './lib/options.js';
import { pinProcesses, readProcessesCpuMs, readRssKiB } from './lib/proc.js';
import { REPO_ROOT } from './lib/processes.js';
import { formatMs, formatRatio, formatTable, median, ratioOf } from './lib/report.js';

export const OTA_OPTIONS = {
  devices: {
    flag: 'devices',
    arg: '<n>',
    env: 'BENCH_DEVICES',
    help: 'simulated devices downloading at once',
    schema: opt.int(1, 50),
  },
  size: {
    flag: 'size',
    arg: '<bytes>',
    env: 'BENCH_IMAGE_BYTES',
    help: 'image size (at most the simulated OTA slot, 2 MiB)',
    schema: opt.int(64 * 1024, 1_572_864),
  },
  rounds: {
    flag: 'rounds',
    arg: '<n>',
    env: 'BENCH_ROUNDS',
    help: 'measured rounds of each side, alternating (medians are reported)',
    schema: opt.int(1, 5),
  },
};

type Options = OptionValues<typeof OTA_OPTIONS>;

const GOAL = 0.8;

interface Side {
  /** ms from the first response to the last byte of the last download */
  windowMs: number;
  /** ms between the first and the last device's first response */
  startSpreadMs: number;
  bytes: number;
  /** CPU ms of the server processes from the offers until every device runs the new image */
  cpuMs: number;
  rssPeakKiB: number;
  /** CPU ms of the clients (this process) over the same time */
  clientCpuMs: number;
  /** ms from the offers until every device runs the new image (the gateway: rollout completed) */
  rollMs: number;
}

/** Samples the processes' summed RSS until stopped; resolves with the peak. */
function rssSampler(pids: number[]) {
  let peak = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const sizes = await Promise.all(pids.map((pid) => readRssKiB(pid).catch(() => 0)));
      peak = Math.max(
        peak,
        sizes.reduce((a, b) => a + b, 0),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return peak;
    },
  };
}

/** What the servers (`pids`) and the clients (this process) spent from now until `end()`. */
async function meter(pids: number[]) {
  const cpuBefore = await readProcessesCpuMs(pids);
  const clientBefore = process.cpuUsage();
  const rss = rssSampler(pids);
  const started = performance.now();
  return async (): Promise<Pick<Side, 'cpuMs' | 'clientCpuMs' | 'rssPeakKiB'> & { elapsedMs: number }> => {
    const client = process.cpuUsage(clientBefore);
    return {
      elapsedMs: performance.now() - started,
      cpuMs: (await readProcessesCpuMs(pids)) - cpuBefore,
      clientCpuMs: (client.user + client.system) / 1000,
      rssPeakKiB: await rss.stop(),
    };
  };
}

/** node:http + fs.createReadStream in a child process, serving the files of a folder; prints its port. */
const STATIC_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[1];
const server = http.createServer((req, res) => {
  const file = path.join(dir, path.basename(req.url));
  fs.stat(file, (error, info) => {
    if (error) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': info.size });
    fs.createReadStream(file).pipe(res);
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function startStaticServer(dir: string): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, ['-e', STATIC_SERVER, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, origin: `http://127.0.0.1:${line.trim()}` };
}

async function stopStaticServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/**
 * `count` simulated pickets on version 1.0.0, connected one after the other to `broker`;
 * resolves once each is connected (on the gateway: its first reading acknowledged).
 */
async function startDevices(
  prefix: string,
  count: number,
  broker: string,
  tokenOf: (id: string) => Promise<string>,
  ready: 'acked' | 'connected',
): Promise<PicketDevice[]> {
  const devices: PicketDevice[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const id = `${prefix}-${i + 1}`;
      const device = new PicketDevice({
        id,
        token: await tokenOf(id),
        gateway: broker,
        intervalMs: 60_000,
        hello: { fw: '1.0.0' },
        backoff: { initialMs: 50, maxMs: 500 },
        ota: { rebootMs: 20 },
      });
      devices.push(device);
      const up = once(device, ready);
      device.start();
      await up;
    }
    return devices;
  } catch (error) {
    await stopDevices(devices);
    throw error;
  }
}

async function stopDevices(devices: PicketDevice[]): Promise<void> {
  await Promise.all(devices.map((d) => d.stop().catch(() => undefined)));
}

/**
 * The devices' download clocks: each one's first response and last byte (taken where the
 * device sees them); `booted` (every device runs `version`), each device's offer (for a
 * confirm), and `confirmed`. A rejected download fails both.
 */
function clockDownloads(devices: PicketDevice[], version: string) {
  const first: number[] = [];
  const last: number[] = [];
  const offers = new Map<PicketDevice, string>();
  let booting = devices.length;
  let confirming = devices.length;
  const settled = () => {
    let settle!: { resolve: () => void; reject: (error: Error) => void };
    const promise = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    promise.catch(() => undefined); // awaited later, or not at all when the other one failed
    return { promise, ...settle };
  };
  const booted = settled();
  const confirmed = settled();
  const listeners = devices.map((device) => {
    const listener = (event: OtaEvent) => {
      if (event.kind === 'download') {
        first.push(performance.now());
        offers.set(device, event.offer);
      } else if (event.kind === 'downloaded') last.push(performance.now());
      else if (event.kind === 'rejected') {
        const error = new Error(`${device.id} rejected the download: ${event.reason}`);
        booted.reject(error);
        confirmed.reject(error);
      } else if (event.kind === 'booted' && event.version === version && --booting === 0) booted.resolve();
      else if (event.kind === 'confirmed' && event.version === version && --confirming === 0)
        confirmed.resolve();
    };
    device.on('ota', listener);
    return () => device.off('ota', listener);
  });
  return {
    booted: booted.promise,
    confirmed: confirmed.promise,
    offers,
    stop: () => {
      for (const off of listeners) off();
    },
    window: () => ({
      windowMs: Math.max(...last) - Math.min(...first),
      startSpreadMs: Math.max(...first) - Math.min(...first),
    }),
  };
}

interface Peer {
  mosquitto: TestMosquitto;
  file: { child: ChildProcess; origin: string };
}

interface Image {
  version: string;
  size: number;
  sha256: string;
}

/**
 * One round on the peer: an offer of the image on each device's `picket/<id>/ota` at once
 * (as a gateway's would be, its URL the static server's), then a confirm to each device
 * once it is back on it, until every one confirmed (as a gateway would).
 */
async function peerRound(peer: Peer, devices: PicketDevice[], image: Image): Promise<Side> {
  const publisher = await mqtt.connectAsync(peer.mosquitto.url, {
    clientId: `bench-ota-offers-${process.pid}`,
  });
  const clock = clockDownloads(devices, image.version);
  try {
    const end = await meter([peer.file.child.pid!, peer.mosquitto.pid]);
    const send = (device: PicketDevice, message: OtaMessage) =>
      publisher.publishAsync(`picket/${device.id}/ota`, JSON.stringify(message), { qos: 1 });
    // each device's confirm once it is back from its reboot, subscribed again (as a gateway
    // confirms on the hello): sent at its boot, it went to no subscriber and was lost
    const confirms = devices.map(async (device) => {
      await once(device, 'connected');
      await send(device, { op: 'confirm', offer: clock.offers.get(device)! });
    });
    await Promise.all(
      devices.map((device) =>
        send(device, {
          op: 'offer',
          offer: randomBytes(12).toString('base64url'),
          version: image.version,
          size: image.size,
          sha256: image.sha256,
          signed: false,
          url: `${peer.file.origin}/${image.sha256}.bin`,
          expires: Date.now() + 600_000,
        }),
      ),
    );
    await Promise.all(confirms);
    await clock.confirmed;
    const { elapsedMs: rollMs, ...spent } = await end();
    return { ...clock.window(), ...spent, bytes: image.size * devices.length, rollMs };
  } finally {
    clock.stop();
    await publisher.endAsync();
  }
}

/** The gateway's round: a rollout of one batch to devices it knows, until it is `completed`. */
async function gatewayRound(nats: TestNats, node: ClusterNode, devices: PicketDevice[], image: Image) {
  const { version, size } = image;
  const count = devices.length;
  const nc = await connectTestBus(nats.url);
  const clock = clockDownloads(devices, version);
  try {
    const kv = await new Kvm(nc).open('sentinel_ota');
    const end = await meter([node.pid, nats.pid]);
    // through the HTTP API (as the web app does), not `sentinel ota rollout`: a CLI process
    // starting and exiting on the devices' CPU just as the downloads begin skewed the round
    const started = await node.gateway.api('/api/ota/rollout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version, canary: 0, batch: count }),
    });
    if (!started.ok) throw new Error(`POST /api/ota/rollout: ${started.status} ${await started.text()}`);
    const watch = await kv.watch({ key: 'rollout' });
    let rollMs = 0;
    for await (const entry of watch) {
      const rollout = entry.json<{ version: string; status: string; created: number; updated: number }>();
      // the watch starts with the record as it is: the last round's rollout until this one is saved
      if (rollout.version !== version || rollout.status === 'running') continue;
      if (rollout.status !== 'completed') throw new Error(`the rollout ended ${rollout.status}`);
      rollMs = rollout.updated - rollout.created;
      break;
    }
    watch.stop();
    await clock.booted;
    const { elapsedMs: _, ...spent } = await end();
    return { ...clock.window(), ...spent, bytes: size * count, rollMs } satisfies Side;
  } finally {
    clock.stop();
    await nc.close();
  }
}

export async function runOta(argv: string[]): Promise<number> {
  const options = readBenchOptions(
    'ota',
    'OTA downloads from one gateway to --devices simulated pickets at once (a rollout of one batch),\n' +
      'beside mosquitto and a plain node:http static file server serving the same file to as many devices.',
    OTA_OPTIONS,
    argv,
  );
  if (typeof options === 'number') return options;

  let nats: TestNats | undefined;
  let node: ClusterNode | undefined;
  let mosquitto: TestMosquitto | undefined;
  let staticServer: ChildProcess | undefined;
  const devices: PicketDevice[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), 'sentinel-bench-ota-'));
  const interrupted = () => {
    killStrays();
    staticServer?.kill('SIGKILL');
    if (mosquitto) process.kill(mosquitto.pid, 'SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    // an image per round (a newer version each time, for the same devices) and one for the warm-up
    const firmware = new FirmwareStore(dataDir);
    const images: Image[] = [];
    for (let round = 0; round <= options.rounds; round++) {
      const built = buildAppImage({
        chip: 'esp32s3',
        appDesc: { projectName: 'picket', version: `2.0.${round}`, idfVersion: 'v5.3.1' },
        size: options.size,
      });
      const { entry } = await firmware.addImage(built);
      images.push({ version: entry.version, size: entry.size, sha256: entry.sha256 });
    }
    const catalogDir = join(dataDir, 'firmware', 'ota');

    mosquitto = await startMosquitto();
    const file = await startStaticServer(catalogDir);
    staticServer = file.child;
    const peer: Peer = { mosquitto, file };
    nats = await startNats();
    node = await startClusterNode(nats.url, 'bench-ota', TEST_LOCKS, dataDir);
    log(`gateway pid ${node.pid}; ${options.devices} devices per round, images of ${options.size} bytes`);

    // Every round's devices connect first, so the rounds run back to back: a client process
    // left alone for seconds gives memory back, and the next round pays for it again (the
    // page faults of 50 fresh 1.5 MB images, measured here as ~0.4 s of system CPU).
    const none = async () => 'unused';
    const warmupDevices = await startDevices(
      'bench-ota-warmup',
      options.devices,
      mosquitto.url,
      none,
      'connected',
    );
    devices.push(...warmupDevices);
    const store = await openGatewayStore({ natsUrl: nats.url });
    const gatewayDevices = await startDevices(
      'bench-ota',
      options.devices,
      node.mqttUrl,
      async (id) => (await store.addDevice(id)).token,
      'acked',
    ).finally(() => store.close());
    devices.push(...gatewayDevices);
    const peerDevices = await startDevices(
      'bench-ota-peer',
      options.devices,
      mosquitto.url,
      none,
      'connected',
    );
    devices.push(...peerDevices);
    log(`${devices.length} devices connected`);
    const cpus = availableParallelism();
    const pinned =
      cpus >= 2 &&
      pinProcesses([node.pid, nats.pid, mosquitto.pid, file.child.pid!], '0') &&
      pinProcesses([process.pid], `1-${cpus - 1}`);
    log(
      pinned
        ? `servers pinned to CPU 0 (the gateway with its nats-server; mosquitto with the static server), the devices to CPU 1${cpus > 2 ? `-${cpus - 1}` : ''}`
        : 'servers and devices share every CPU (taskset is missing or this machine has one CPU)',
    );

    await peerRound(peer, warmupDevices, images[0]!);
    log('clients warmed up (one unmeasured round on the peer)');
    const rounds: { gateway: Side; static: Side }[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const image = images[round]!;
      // which side goes first alternates, so neither always follows the other's reboots
      const gatewayFirst = round % 2 === 1;
      const staticBefore = gatewayFirst ? undefined : await peerRound(peer, peerDevices, image);
      const gateway = await gatewayRound(nats, node, gatewayDevices, image);
      const staticSide = staticBefore ?? (await peerRound(peer, peerDevices, image));
      rounds.push({ gateway, static: staticSide });
      log(
        `round ${round}/${options.rounds}: gateway ${formatMbps(gateway)} MB/s (first responses spread over ${formatMs(gateway.startSpreadMs)} ms), ` +
          `mosquitto + static server ${formatMbps(staticSide)} MB/s (${formatMs(staticSide.startSpreadMs)} ms): ${formatRatio(ratioOf(mbps(gateway), mbps(staticSide)))}`,
      );
    }

    process.stdout.write(`${report(rounds, options, pinned)}\n`);
    const artifacts = join(REPO_ROOT, '.artifacts');
    await mkdir(artifacts, { recursive: true });
    await writeFile(
      join(artifacts, 'bench-ota.json'),
      `${JSON.stringify({ options, goal: GOAL, pinned, rounds }, null, 2)}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`bench ota: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', interrupted);
    await stopDevices(devices);
    if (staticServer) await stopStaticServer(staticServer);
    await mosquitto?.stop();
    await node?.stop().catch(() => undefined);
    killStrays();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const mbps = (side: Side) => side.bytes / 1e6 / (side.windowMs / 1000);
const formatMbps = (side: Side) => mbps(side).toFixed(1);

function report(rounds: { gateway: Side; static: Side }[], options: Options, pinned: boolean): string {
  const ratios = rounds.map((r) => ratioOf(mbps(r.gateway), mbps(r.static)) ?? 0);
  const ratio = median(ratios)!;
  const mid = (side: 'gateway' | 'static', measure: (s: Side) => number) =>
    median(rounds.map((r) => measure(r[side])))!;
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const row = (
    name: string,
    measure: (s: Side) => number,
    format: (n: number) => string | number | undefined,
  ) => {
    const ours = mid('gateway', measure);
    const theirs = mid('static', measure);
    return [name, format(ours), format(theirs), formatRatio(ratioOf(ours, theirs)), ''];
  };
  const rows = [
    [
      'aggregate throughput MB/s',
      mid('gateway', mbps).toFixed(1),
      mid('static', mbps).toFixed(1),
      formatRatio(ratio),
      ratio >= GOAL ? `met (≥ ${GOAL}×)` : `MISSED (< ${GOAL}×)`,
    ],
    row('download window ms', (s) => s.windowMs, formatMs),
    row('first responses spread over ms', (s) => s.startSpreadMs, formatMs),
    row('server CPU ms', (s) => s.cpuMs, Math.round),
    row('server RSS peak MiB', (s) => s.rssPeakKiB, mib),
    row('client CPU ms (this process)', (s) => s.clientCpuMs, Math.round),
    row(`time to roll ${options.devices} devices ms`, (s) => s.rollMs, Math.round),
  ];
  return `${formatTable(['ota download', 'gateway', 'mosquitto + static node:http', 'gateway ÷ peer', 'goal'], rows, [false, true, true, true, false])}

Medians of ${rounds.length} rounds of each side, alternating; the throughput ratio is the median of the rounds' ratios (${ratios.map((r) => formatRatio(r)).join(', ')}). ${options.devices} simulated devices at once on each side (the same code: download, progress, SHA-256 and image check, reboot, hello), a newer ${options.size}-byte image each round. Servers: the gateway with its nats-server; mosquitto with the static server. CPU and RSS from the offers until every device runs the new image; the time to roll also waits for the confirmations. ${pinned ? 'The servers ran on CPU 0, the devices on the others.' : `The devices shared this machine's ${availableParallelism()} CPUs with the servers.`}`;
}

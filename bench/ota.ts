// `npm run bench -- ota`: what our OTA download path costs. A `sentinel gateway` on a
// nats-server rolls a 1.5 MB image out to --devices simulated pickets at once (one
// batch, no canary) through its download route (per-offer credential, device token,
// Range support, progress over MQTT); then a plain static file server (node:http +
// fs.createReadStream, in its own process) serves the same file to the same number of
// clients, with the same fetch and body loop the simulator uses, in the same run.
//   - throughput: image bytes × devices ÷ (last byte of the last download − first response),
//     both taken in the clients, on both sides;
//   - CPU: user + system ms of the server process during the downloads;
//   - RSS: the server process's peak while serving;
//   - time to roll: from the rollout's creation to `completed` (downloads, verification,
//     reboots, hellos, confirmations), with no peer.
// The ratio of the throughputs is the cost of our path (goal ≥ 0.8×).
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kvm } from '@nats-io/kv';
import { buildAppImage, inspectRelease } from '@sentinel/firmware';
import { FirmwareStore, openGatewayStore } from '@sentinel/gateway';
import { PicketDevice } from '@sentinel/simulators';
import { connectTestBus } from '../test/support/bus.js';
import { killStrays, runCli } from '../test/support/cli.js';
import { type ClusterNode, startClusterNode, TEST_LOCKS } from '../test/support/cluster.js';
import { startNats, type TestNats } from '../test/support/nats.js';
import { errorMessage, log } from './lib/log.js';
import { type OptionValues, opt, readBenchOptions } from './lib/options.js';
import { readProcessCpuMs, readRssKiB } from './lib/proc.js';
import { REPO_ROOT } from './lib/processes.js';
import { formatMs, formatRatio, formatTable, ratioOf } from './lib/report.js';

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
};

type Options = OptionValues<typeof OTA_OPTIONS>;

const GOAL = 0.8;

interface Side {
  /** ms from the first response to the last byte of the last download */
  windowMs: number;
  bytes: number;
  cpuMs: number;
  rssPeakKiB: number;
  /** CPU ms of the clients (this process) over the same run */
  clientCpuMs: number;
}

/** Samples a process's RSS until stopped; resolves with the peak. */
function rssSampler(pid: number) {
  let peak = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      peak = Math.max(peak, await readRssKiB(pid).catch(() => 0));
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

/** node:http + fs.createReadStream in a child process; prints its port. */
const STATIC_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const file = process.argv[1];
const size = fs.statSync(file).size;
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
  fs.createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function startStaticServer(file: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', STATIC_SERVER, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, url: `http://127.0.0.1:${line.trim()}/image.bin` };
}

async function stopStaticServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/**
 * The simulator's download loop and its check of the image (simulators/src/picket/ota.ts),
 * without the device around it: the clients do the same work on both sides.
 */
async function download(
  url: string,
  sha256: string,
): Promise<{ first: number; last: number; bytes: number }> {
  const response = await fetch(url, { headers: { authorization: 'Bearer bench:unused' } });
  const first = performance.now();
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const piece = Buffer.from(chunk);
    chunks.push(piece);
    bytes += piece.length;
  }
  const last = performance.now();
  const image = new Uint8Array(Buffer.concat(chunks));
  if (createHash('sha256').update(image).digest('hex') !== sha256)
    throw new Error('the static server sent other bytes');
  inspectRelease(image);
  return { first, last, bytes };
}

export async function runOta(argv: string[]): Promise<number> {
  const options = readBenchOptions(
    'ota',
    'OTA downloads from one gateway to --devices simulated pickets at once (a rollout of one batch),\n' +
      'beside a plain node:http static file server serving the same file to as many clients.',
    OTA_OPTIONS,
    argv,
  );
  if (typeof options === 'number') return options;

  let nats: TestNats | undefined;
  let node: ClusterNode | undefined;
  let staticServer: ChildProcess | undefined;
  const devices: PicketDevice[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), 'sentinel-bench-ota-'));
  const interrupted = () => {
    killStrays();
    staticServer?.kill('SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    const image = buildAppImage({
      chip: 'esp32s3',
      appDesc: { projectName: 'picket', version: '2.0.0', idfVersion: 'v5.3.1' },
      size: options.size,
    });
    const { entry } = await new FirmwareStore(dataDir).addImage(image);
    const imageFile = join(dataDir, 'firmware', 'ota', `${entry.sha256}.bin`);
    nats = await startNats();
    node = await startClusterNode(nats.url, 'bench-ota', TEST_LOCKS, dataDir);
    log(`gateway pid ${node.pid}; ${options.devices} devices, image ${entry.size} bytes`);

    const store = await openGatewayStore({ natsUrl: nats.url });
    const firstResponse: number[] = [];
    const downloaded: number[] = [];
    for (let i = 0; i < options.devices; i++) {
      const id = `bench-ota-${i + 1}`;
      const { token } = await store.addDevice(id);
      const device = new PicketDevice({
        id,
        token,
        gateway: node.mqttUrl,
        intervalMs: 60_000,
        hello: { fw: '1.0.0' },
        backoff: { initialMs: 50, maxMs: 500 },
        ota: { rebootMs: 20 },
      });
      device.on('ota', (event) => {
        if (event.kind === 'download') firstResponse.push(performance.now());
        // the last byte, where the static clients stop their clock too
        if (event.kind === 'downloaded') downloaded.push(performance.now());
      });
      const acked = once(device, 'acked');
      device.start();
      await acked;
      devices.push(device);
    }
    await store.close();
    log(`${devices.length} devices connected; rolling ${entry.version} out to all at once`);

    // The clients (this process) are the busiest part of both runs, and the first side to
    // run would pay for compiling fetch's body loop, SHA-256 and the image check: one
    // unmeasured round against a static server first, so both measured rounds start warm
    // (that server then goes: the measured one starts cold, as the gateway's route does).
    const warmup = await startStaticServer(imageFile);
    staticServer = warmup.child;
    await Promise.all(Array.from({ length: options.devices }, () => download(warmup.url, entry.sha256)));
    await stopStaticServer(warmup.child);
    log('clients warmed up (one unmeasured round against a static server)');

    const nc = await connectTestBus(nats.url);
    const kv = await new Kvm(nc).open('sentinel_ota');
    const cpuBefore = await readProcessCpuMs(node.pid);
    const clientCpuBefore = process.cpuUsage();
    const rss = rssSampler(node.pid);
    const started = await runCli([
      'ota',
      'rollout',
      entry.version,
      '--canary',
      '0',
      '--batch',
      String(options.devices),
      '--nats',
      nats.url,
    ]);
    if (started.code !== 0) throw new Error(`sentinel ota rollout: ${started.stderr.trim()}`);
    const watch = await kv.watch({ key: 'rollout' });
    let rollMs = 0;
    for await (const entry of watch) {
      const rollout = entry.json<{ status: string; created: number; updated: number }>();
      if (rollout.status === 'running') continue;
      if (rollout.status !== 'completed') throw new Error(`the rollout ended ${rollout.status}`);
      rollMs = rollout.updated - rollout.created;
      break;
    }
    watch.stop();
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const gatewayRss = await rss.stop();
    const gateway: Side = {
      windowMs: Math.max(...downloaded) - Math.min(...firstResponse),
      bytes: entry.size * options.devices,
      cpuMs: (await readProcessCpuMs(node.pid)) - cpuBefore,
      rssPeakKiB: gatewayRss,
      clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
    };
    log(
      `gateway: ${options.devices} downloads in ${formatMs(gateway.windowMs)} ms (first responses spread over ${formatMs(Math.max(...firstResponse) - Math.min(...firstResponse))} ms); rolled in ${rollMs} ms`,
    );
    await nc.close();

    const peer = await startStaticServer(imageFile);
    staticServer = peer.child;
    const peerCpuBefore = await readProcessCpuMs(peer.child.pid!);
    const peerRss = rssSampler(peer.child.pid!);
    const peerClientBefore = process.cpuUsage();
    const results = await Promise.all(
      Array.from({ length: options.devices }, () => download(peer.url, entry.sha256)),
    );
    const staticSide: Side = {
      windowMs: Math.max(...results.map((r) => r.last)) - Math.min(...results.map((r) => r.first)),
      bytes: results.reduce((sum, r) => sum + r.bytes, 0),
      cpuMs: (await readProcessCpuMs(peer.child.pid!)) - peerCpuBefore,
      rssPeakKiB: await peerRss.stop(),
      clientCpuMs: 0,
    };
    const peerClient = process.cpuUsage(peerClientBefore);
    staticSide.clientCpuMs = (peerClient.user + peerClient.system) / 1000;
    log(`static server: ${options.devices} downloads in ${formatMs(staticSide.windowMs)} ms`);

    process.stdout.write(`${report(gateway, staticSide, rollMs, options)}\n`);
    const artifacts = join(REPO_ROOT, '.artifacts');
    await mkdir(artifacts, { recursive: true });
    await writeFile(
      join(artifacts, 'bench-ota.json'),
      `${JSON.stringify({ options, goal: GOAL, gateway, static: staticSide, roll_ms: rollMs }, null, 2)}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`bench ota: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', interrupted);
    await Promise.all(devices.map((d) => d.stop().catch(() => undefined)));
    if (staticServer) await stopStaticServer(staticServer);
    await node?.stop().catch(() => undefined);
    killStrays();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function report(gateway: Side, peer: Side, rollMs: number, options: Options): string {
  const mbps = (side: Side) => side.bytes / 1e6 / (side.windowMs / 1000);
  const ratio = ratioOf(mbps(gateway), mbps(peer));
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const rows = [
    [
      'aggregate throughput MB/s',
      mbps(gateway).toFixed(1),
      mbps(peer).toFixed(1),
      formatRatio(ratio),
      ratio === undefined ? '—' : ratio >= GOAL ? `met (≥ ${GOAL}×)` : `MISSED (< ${GOAL}×)`,
    ],
    [
      'download window ms',
      formatMs(gateway.windowMs),
      formatMs(peer.windowMs),
      formatRatio(ratioOf(gateway.windowMs, peer.windowMs)),
      '',
    ],
    ['server CPU ms', gateway.cpuMs, peer.cpuMs, formatRatio(ratioOf(gateway.cpuMs, peer.cpuMs)), ''],
    [
      'server RSS peak MiB',
      mib(gateway.rssPeakKiB),
      mib(peer.rssPeakKiB),
      formatRatio(ratioOf(gateway.rssPeakKiB, peer.rssPeakKiB)),
      '',
    ],
    [
      'client CPU ms (this process)',
      Math.round(gateway.clientCpuMs),
      Math.round(peer.clientCpuMs),
      formatRatio(ratioOf(gateway.clientCpuMs, peer.clientCpuMs)),
      '',
    ],
    // above 1.0 the clients, not the server, set the pace: the ratio then mostly measures
    // what else the simulated devices do in this process during a rollout (MQTT, reboots)
    [
      'client busy (client CPU ÷ window)',
      (gateway.clientCpuMs / gateway.windowMs).toFixed(2),
      (peer.clientCpuMs / peer.windowMs).toFixed(2),
      '',
      '',
    ],
    [`time to roll ${options.devices} devices ms`, rollMs, '—', '', ''],
  ];
  return `${formatTable(['ota download', 'gateway', 'static node:http', 'gateway ÷ static', 'goal'], rows, [false, true, true, true, false])}\n\n${options.devices} clients at once, image ${options.size} bytes; server and client CPU of the gateway run cover the whole rollout (MQTT, offers, progress, KV, reboots, confirmations); both sets of clients check each image (SHA-256, image header) as a device does, and both start warm (one unmeasured round first)`;
}
